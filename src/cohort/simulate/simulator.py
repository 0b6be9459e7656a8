"""``simulate()``: run a job folder (or a recipe) with N virtual sites in this machine, without
a network.

The job goes through the server's validator, the server's workflow (``WORKFLOWS``) runs against
:class:`SimWorkflowContext`, and every site runs the job's client script unchanged, its
``cohort.client`` calls served in-process. The result folder has the layout of a real job's
downloaded result.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Literal

from cohort.recipes.base import Recipe
from cohort.schemas.records import JobRecord
from cohort.simulate.board import Board
from cohort.simulate.context import SimWorkflowContext
from cohort.simulate.environment import script_environment
from cohort.simulate.plan import SimulationPlan, default_workspace, plan_simulation
from cohort.simulate.processes import ProcessesBackend, rss_mb
from cohort.simulate.progress import NoProgress, RoundProgress
from cohort.simulate.raybackend import RayBackend
from cohort.simulate.result import SimulationResult, write_result_folder
from cohort.simulate.threads import ThreadsBackend
from cohort.states import JobStatus
from cohort.workflows import WORKFLOWS
from cohort.workflows.base import WorkflowFailed

__all__ = ["SHUTDOWN_GRACE", "simulate"]

#: Seconds sites get to end their scripts once the job is over.
SHUTDOWN_GRACE = 30.0
# One simulation at a time per process: the threads back end sets process-wide state.
_one_at_a_time = threading.Lock()


def simulate(
    job: Path | Recipe,
    n_sites: int,
    *,
    threads: int | None = None,
    backend: Literal["threads", "processes", "ray"] = "threads",
    seed: int = 0,
    workspace: Path | None = None,
    site_names: list[str] | None = None,
    progress: bool = True,
) -> SimulationResult:
    """Run the job folder ``job`` with ``n_sites`` virtual sites ``site-1..site-N``.

    Args:
        job: the job folder (the one holding meta.json), as for ``cohort job submit``, or
            an example folder holding it in ``job/``, or a :class:`~cohort.recipes.Recipe`
            (exported to a temporary folder first; the default workspace is named after
            the job).
        n_sites: how many sites to simulate.
        threads: how many sites work at once (default: min(n_sites, CPU count)).
        backend: "threads" (sites are threads of this process), "processes" (sites are
            spread over ``threads`` spawned worker processes) or "ray" (sites are spread over
            ``threads`` Ray actors; needs the ``cohort[ray]`` extra; uses the Ray the caller
            connected to with ``ray.init()``, else starts a local one for the run).
        seed: seeds Python's and numpy's global generators before the sites start.
        workspace: where models, logs and the result go (default
            ``<tmp>/cohort/simulate/<job folder name>``; a simulation's workspace is reused).
        site_names: names of the sites instead of site-1..site-N (``n_sites`` of them).
        progress: show a progress bar on stderr.

    Returns:
        the :class:`SimulationResult`; a job that fails is a result (FINISHED_EXCEPTION with
        the reason), not an exception. Invalid arguments or job folders raise
        :class:`cohort.errors.InvalidRequest` with the error code the server would use.
    """
    if isinstance(job, Recipe):
        with tempfile.TemporaryDirectory(prefix="cohort-recipe-") as tmp:
            folder = job.export(Path(tmp) / "job")
            name = str(json.loads((folder / "meta.json").read_text()).get("name") or "job")
            return simulate(
                folder,
                n_sites,
                threads=threads,
                backend=backend,
                seed=seed,
                workspace=workspace or default_workspace(name),
                site_names=site_names,
                progress=progress,
            )
    started, clock = time.time(), time.monotonic()
    plan = plan_simulation(
        Path(job),
        n_sites,
        threads=threads,
        backend=backend,
        workspace=workspace,
        site_names=site_names,
    )
    job_id = str(uuid.uuid4())
    with _one_at_a_time:
        rule = plan.folder.meta.policies.update_validation
        board = Board(job_id, plan.workspace, update_validation=rule)
        sink = RoundProgress(sys.stderr) if progress else NoProgress()
        ctx = SimWorkflowContext(
            board, plan.sites, plan.min_clients, plan.server_app_dir, sink, rule
        )
        extra_rss = 0.0
        if len(plan.sites) < plan.min_clients:
            status = JobStatus.FAILED
            reason = (
                f"the job needs {plan.min_clients} sites (min_clients), "
                f"{len(plan.sites)} of the simulated sites take part"
            )
        else:
            status, reason, extra_rss = _run(plan, job_id, seed, board, ctx, sink)
        shutil.rmtree(plan.workspace / "updates", ignore_errors=True)
        record = JobRecord(
            job_id=job_id,
            name=plan.folder.meta.name,
            submitter="simulator",
            status=status,
            meta=plan.folder.meta.model_dump(mode="json"),
            job_sha256=plan.job_sha256,
            submit_time=started,
            start_time=started,
            end_time=time.time(),
            status_reason=reason,
            current_round=ctx.current_round,
            total_rounds=ctx.total_rounds or None,
            site_errors=board.site_errors,
            sites=plan.sites,
        )
        rounds = [ctx.rounds[r] for r in sorted(ctx.rounds)]
        result_dir = write_result_folder(plan.workspace, record, rounds)
    return SimulationResult(
        status=status,
        reason=reason,
        result_dir=result_dir,
        rounds=[
            {
                "round": r.round,
                "num_updates": r.num_updates,
                "num_samples": r.num_samples,
                "metrics": r.metrics,
                "model_path": f"workspace/models/round-{r.round}.safetensors",
                "model_sha256": r.model_sha256,
            }
            for r in rounds
        ],
        final_metrics=dict(rounds[-1].metrics) if rounds else {},
        peak_rss_mb=rss_mb() + extra_rss,
        wall_seconds=time.monotonic() - clock,
        job_id=job_id,
        n_sites=n_sites,
        threads=plan.threads,
        backend=plan.backend,
        site_errors=board.site_errors,
    )


def _run(
    plan: SimulationPlan,
    job_id: str,
    seed: int,
    board: Board,
    ctx: SimWorkflowContext,
    sink: NoProgress,
) -> tuple[JobStatus, str, float]:
    """Run the workflow with the plan's back end; return status, reason and the workers'
    peak memory (processes and ray back ends)."""
    variables = {"COHORT_JOB_ID": job_id, "COHORT_NUM_SITES": str(len(plan.sites))}
    logs = plan.workspace / "logs"
    if plan.backend in ("processes", "ray"):
        hosts = (ProcessesBackend if plan.backend == "processes" else RayBackend)(
            job_id=job_id,
            sites=plan.sites,
            app_dir=plan.client_app_dir,
            client=plan.client,
            job_root=plan.job_root,
            link=board,
            logs_dir=logs,
            workers=plan.threads,
            variables=variables,
            seed=seed,
        )
        board.sender = hosts
        status, reason = _drive(plan, board, ctx, sink, hosts)
        return status, reason, hosts.workers_peak_rss_mb
    script = plan.script()
    threads = ThreadsBackend(job_id, plan.sites, script, board, logs, plan.threads)
    board.sender = threads
    with script_environment(script, variables, seed, plan.job_root, plan.threads):
        status, reason = _drive(plan, board, ctx, sink, threads)
    return status, reason, 0.0


def _drive(
    plan: SimulationPlan,
    board: Board,
    ctx: SimWorkflowContext,
    sink: NoProgress,
    backend: ThreadsBackend | ProcessesBackend | RayBackend,
) -> tuple[JobStatus, str]:
    """Start the sites, run the workflow as the server job process does, stop the sites."""
    cfg = plan.server_config
    status, reason = JobStatus.FINISHED_EXCEPTION, "not started"
    with sink:
        backend.start()
        try:
            ctx.log(f"job {ctx.job_id}: workflow {cfg.workflow} on sites {', '.join(ctx.sites)}")
            workflow = WORKFLOWS[cfg.workflow](**cfg.args)
            workflow.run(ctx)
            status, reason = JobStatus.FINISHED_OK, "finished"
            ctx.log("job finished")
        except WorkflowFailed as exc:
            ctx.log(f"job failed: {exc}")
            status, reason = JobStatus.FINISHED_EXCEPTION, str(exc)
        except KeyboardInterrupt:
            ctx.log("job aborted: interrupted")
            status, reason = JobStatus.ABORTED, "interrupted (Ctrl-C)"
        except Exception as exc:
            ctx.log("".join(traceback.format_exc().splitlines(keepends=True)[-20:]))
            status = JobStatus.FINISHED_EXCEPTION
            reason = f"workflow error: {type(exc).__name__}: {exc}"
        finally:
            board.finish()
            stuck = backend.join(SHUTDOWN_GRACE)
            if stuck:
                ctx.log(
                    f"{len(stuck)} site(s) still ran {SHUTDOWN_GRACE:g} s after the job ended "
                    f"and were left behind: {', '.join(stuck[:20])}"
                )
    return status, reason
