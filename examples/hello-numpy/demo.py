"""`make demo`: a 3-site federation on this machine trains hello-numpy end to end.

Prepares a POC in a temporary folder, starts a server and three site agents as separate
processes on 127.0.0.1 (mutual TLS), submits the job, shows live progress, downloads the result,
compares the final accuracy with a centrally trained baseline, and stops every process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

HERE = Path(__file__).resolve().parent
console = Console()


def _load_lib() -> ModuleType:
    path = HERE / "job" / "app" / "custom" / "hello_numpy_lib.py"
    spec = importlib.util.spec_from_file_location("hello_numpy_lib", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Run the demo; exit 0 when the job finished OK."""
    workspace = Path(tempfile.mkdtemp(prefix="cohort-demo-"))
    # The demo must not change the user's active startup kit.
    os.environ["COHORT_HOME"] = str(workspace / "home")
    from cohort.admin.api import AdminAPI
    from cohort.provision.kit import load_kit
    from cohort.provision.poc import prepare_poc
    from cohort.provision.processes import start_poc, stop_poc

    began = time.monotonic()
    layout = prepare_poc(workspace / "poc", 3)
    console.print(f"[bold]POC[/bold] workspace {layout.workspace}")
    try:
        t0 = time.monotonic()
        start_poc(layout, timeout=60)
        console.print(
            f"server and 3 sites up on {layout.server_url} in {time.monotonic() - t0:.1f} s"
        )
        with AdminAPI(load_kit(layout.admin_kit)) as api:
            job_id = api.submit_job(HERE / "job")
            console.print(f"submitted hello-numpy as job {job_id}")
            record = _watch(api, job_id)
            console.print(f"job ended [bold]{record.status}[/bold] ({record.status_reason})")
            if record.status != "FINISHED_OK":
                for err in record.site_errors:
                    console.print(f"  {err['site']}: {err['error']}")
                return 1
            result = api.download_result(job_id, workspace / "result")
        _report(result, began)
        return 0
    finally:
        stopped = stop_poc(layout)
        console.print(f"stopped {', '.join(stopped)}")


def _watch(api: object, job_id: str) -> object:
    from cohort.admin.api import AdminAPI

    assert isinstance(api, AdminAPI)
    columns = (
        TextColumn("[bold]{task.fields[where]}"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("waiting for sites", total=None, where="submitted")

        def on_change(record: object) -> None:
            from cohort.schemas.records import JobRecord

            assert isinstance(record, JobRecord)
            accuracy = ""
            scored = [r for r in api.rounds(job_id) if "accuracy" in r.metrics]
            if scored:
                last = scored[-1]
                accuracy = f"global accuracy {last.metrics['accuracy']:.4f} (round {last.round})"
            where = record.status
            if record.total_rounds:
                where = f"round {record.current_round}/{record.total_rounds}"
            progress.update(
                bar,
                total=record.total_rounds or None,
                completed=max((record.current_round or 1) - 1, 0),
                description=accuracy or record.status_reason,
                where=where,
            )
            if record.status == "FINISHED_OK":
                progress.update(bar, completed=record.total_rounds or 0)

        return api.wait_job(job_id, timeout=300, on_change=on_change)


def _report(result: Path, began: float) -> None:
    summary = json.loads((result / "workspace" / "metrics_summary.json").read_text())
    table = Table("round", "global model accuracy", "loss", title="hello-numpy on 3 sites")
    for entry in summary["rounds"]:
        m = entry["metrics"]
        label = "initial" if entry["round"] == 0 else str(entry["round"])
        table.add_row(
            label, f"{m.get('accuracy', float('nan')):.4f}", f"{m.get('loss', float('nan')):.4f}"
        )
    console.print(table)
    final = summary["final_metrics"].get("accuracy", float("nan"))
    lib = _load_lib()
    baseline = lib.central_baseline()
    console.print(f"final federated accuracy  [bold]{final:.4f}[/bold]")
    console.print(f"central baseline accuracy [bold]{baseline:.4f}[/bold] (all sites' data pooled)")
    console.print(f"result downloaded to {result}")
    console.print(f"demo took {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
