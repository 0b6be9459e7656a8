"""A job's additional components (``ERRORLOG_<target>``) and its errors per target, with reset.

Errors come from the job record: each site's recorded failures (``site_errors``) and, for the
server, the reason of a failure status. ``reset_errors`` hides the errors seen so far (kept in
``jobs/<id>/errors_reset.json``, so a restart keeps it); later errors show again.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from cohort.schemas.records import JobRecord
from cohort.server.services.jobs import JobService, job_dir
from cohort.server.state import ServerState
from cohort.states import JobStatus

__all__ = ["ComponentService"]

ERRORLOG = "ERRORLOG_"
SERVER = "server"
_FAILED = {JobStatus.FINISHED_EXCEPTION, JobStatus.FAILED, JobStatus.ABANDONED}


def _line(error: dict[str, Any]) -> str:
    tail = str(error.get("traceback_tail") or "").rstrip()
    head = f"[{error.get('time', 0):.3f}] {error.get('kind', 'error')}: {error.get('error', '')}"
    return head + (f"\n{tail}" if tail else "") + "\n"


class ComponentService:
    """Error logs and errors of one job."""

    def __init__(self, state: ServerState, jobs: JobService) -> None:
        self.state = state
        self.jobs = jobs

    def _all_errors(self, record: JobRecord) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if record.status in _FAILED and record.status_reason:
            found[SERVER] = [
                {"kind": str(record.status), "error": record.status_reason,
                 "time": record.end_time or 0.0}
            ]  # fmt: skip
        for error in record.site_errors:
            found.setdefault(str(error.get("site")), []).append(error)
        return found

    def error_logs(self, job_id: str, study: str) -> dict[str, str]:
        """``{"ERRORLOG_<target>": text}`` for every target that reported an error."""
        record = self.jobs.get(job_id, study)
        return {
            f"{ERRORLOG}{target}": "".join(_line(e) for e in errors)
            for target, errors in sorted(self._all_errors(record).items())
        }

    def components_zip(self, job_id: str, study: str) -> bytes:
        """The components as a zip archive (one file per component)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in self.error_logs(job_id, study).items():
                zf.writestr(name, text)
        return buffer.getvalue()

    def _reset_key(self, job_id: str) -> str:
        return f"{job_dir(job_id)}/errors_reset.json"

    def _hidden(self, job_id: str) -> dict[str, int]:
        path = self.state.artifacts.path(self._reset_key(job_id))
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def errors(self, job_id: str, study: str, targets: list[str]) -> dict[str, Any]:
        """``{target: {component: [error, ...]}}`` for the given targets that have errors."""
        record = self.jobs.get(job_id, study)
        hidden = self._hidden(job_id)
        result: dict[str, Any] = {}
        for target, errors in self._all_errors(record).items():
            shown = errors[hidden.get(target, 0) :]
            if target in targets and shown:
                component = "ServerRunner" if target == SERVER else "ClientRunner"
                result[target] = {component: [e.get("error", "") for e in shown]}
        return result

    def reset_errors(self, job_id: str, study: str) -> None:
        """Hide every error reported so far, on every target."""
        record = self.jobs.get(job_id, study)
        counts = {t: len(e) for t, e in self._all_errors(record).items()}
        self.state.artifacts.write_bytes(self._reset_key(job_id), json.dumps(counts).encode())
