"""The result archive of a finished job: final global model, model trail, metrics, logs,
and the workflow's result files (e.g. the cross-site evaluation matrix)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from cohort.schemas.records import JobRecord
from cohort.server.state import ServerState
from cohort.store.artifacts import TEMP_SUFFIX

__all__ = ["build_result_zip"]


def build_result_zip(state: ServerState, record: JobRecord) -> Path:
    """Write ``result.zip``: final global model, model trail, metrics, logs, meta."""
    # Here, not at the top: logstore imports the jobs service, which imports this module.
    from cohort.server.services.logstore import site_log_key, stored_site_logs

    arts = state.artifacts
    base = f"jobs/{record.job_id}"
    target = arts.path(f"{base}/result.zip")
    site_logs = {
        (site, file): arts.path(site_log_key(record.job_id, site, file))
        for site, files in stored_site_logs(state, record.job_id).items()
        for file in files
    }
    sources = [p for d in ("logs", "metrics") for p in arts.path(f"{base}/{d}").glob("*")]
    sources += site_logs.values()
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    if target.exists() and target.stat().st_mtime >= newest:
        return target  # built after the last log line arrived: still current
    rounds = state.store.list_rounds(record.job_id)
    summary = {
        "job_id": record.job_id,
        "status": record.status,
        "status_reason": record.status_reason,
        "rounds": [{"round": r.round, "metrics": r.metrics} for r in rounds],
        "final_metrics": rounds[-1].metrics if rounds else {},
    }
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("meta.json", record.model_dump_json(indent=2))
        zf.writestr("workspace/metrics_summary.json", json.dumps(summary, indent=2))
        for rnd in rounds:
            if not arts.exists(rnd.model_path):
                continue  # pruned by the job's keep_rounds setting
            # Stored, not deflated: float tensors barely compress and can be gigabytes.
            zf.write(
                arts.path(rnd.model_path),
                f"workspace/models/round-{rnd.round}.safetensors",
                compress_type=zipfile.ZIP_STORED,
            )
        if rounds:
            zf.write(
                arts.path(rounds[-1].model_path),
                "workspace/FL_global_model.safetensors",
                compress_type=zipfile.ZIP_STORED,
            )
        server_log = arts.path(f"{base}/logs/server.log")
        if server_log.is_file():
            zf.write(server_log, "workspace/log.txt")
        for (site, file), path in sorted(site_logs.items()):
            zf.write(path, f"workspace/{site}/{file}")  # as stored: the job workspace layout
        metrics = arts.path(f"{base}/metrics")
        if metrics.is_dir():
            for item in sorted(metrics.iterdir()):
                zf.write(item, f"workspace/{item.stem}/metrics.jsonl")
        files = arts.path(f"{base}/results")  # the workflow's result files
        if files.is_dir():
            for item in sorted(files.iterdir()):
                if item.is_file() and not item.name.endswith(TEMP_SUFFIX):
                    zf.write(item, f"workspace/{item.name}")
    shutil.move(str(tmp), str(target))
    return target
