"""What a simulation returns, and its result folder: the layout of a real job's download."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohort.schemas.records import JobRecord, RoundRecord
from cohort.states import JobStatus

__all__ = ["SimulationResult", "write_result_folder"]


@dataclass
class SimulationResult:
    """How a simulated job ended, where its results are, and what it cost."""

    status: JobStatus
    reason: str
    result_dir: Path
    rounds: list[dict[str, Any]]
    final_metrics: dict[str, float]
    peak_rss_mb: float
    wall_seconds: float
    job_id: str = ""
    n_sites: int = 0
    threads: int = 0
    backend: str = "threads"
    site_errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the job finished without an exception."""
        return self.status == JobStatus.FINISHED_OK

    @property
    def global_model(self) -> Path:
        """The final global model (``workspace/FL_global_model.safetensors``)."""
        return self.result_dir / "workspace" / "FL_global_model.safetensors"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``data``)."""
        return {
            "job_id": self.job_id,
            "status": str(self.status),
            "reason": self.reason,
            "result_dir": str(self.result_dir),
            "n_sites": self.n_sites,
            "threads": self.threads,
            "backend": self.backend,
            "rounds": self.rounds,
            "final_metrics": self.final_metrics,
            "site_errors": self.site_errors,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "wall_seconds": round(self.wall_seconds, 3),
        }


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_result_folder(root: Path, record: JobRecord, rounds: list[RoundRecord]) -> Path:
    """Write ``root/result`` as the server's result archive unpacks (see ``build_result_zip``):
    ``meta.json``, and under ``workspace/``: ``FL_global_model.safetensors``,
    ``metrics_summary.json``, ``models/round-N.safetensors``, ``log.txt`` (the server's) and
    ``<site>/log.txt`` and ``<site>/metrics.jsonl``, and the workflow's result files."""
    result = root / "result"
    if result.exists():
        shutil.rmtree(result)
    ws = result / "workspace"
    ws.mkdir(parents=True)
    (result / "meta.json").write_text(record.model_dump_json(indent=2))
    summary = {
        "job_id": record.job_id,
        "status": record.status,
        "status_reason": record.status_reason,
        "rounds": [{"round": r.round, "metrics": r.metrics} for r in rounds],
        "final_metrics": rounds[-1].metrics if rounds else {},
    }
    (ws / "metrics_summary.json").write_text(json.dumps(summary, indent=2))
    for rnd in rounds:
        _link_or_copy(root / rnd.model_path, ws / "models" / f"round-{rnd.round}.safetensors")
    if rounds:
        _link_or_copy(root / rounds[-1].model_path, ws / "FL_global_model.safetensors")
    logs = root / "logs"
    if logs.is_dir():
        for log in sorted(logs.iterdir()):
            name = log.stem  # server.log -> workspace/log.txt; site-1.log -> site-1/log.txt
            _link_or_copy(log, ws / "log.txt" if name == "server" else ws / name / "log.txt")
    metrics = root / "metrics"
    if metrics.is_dir():
        for item in sorted(metrics.iterdir()):
            _link_or_copy(item, ws / item.stem / "metrics.jsonl")
    files = root / "results"  # the workflow's own result files (e.g. cross_site_eval.json)
    if files.is_dir():
        for item in sorted(files.iterdir()):
            if not item.name.startswith("."):
                _link_or_copy(item, ws / item.name)
    return result
