"""Cohort side by side with Flower and NVIDIA FLARE: the one command behind ``make bench``.

    .venv/bin/python benchmarks/bench.py --quick          # minutes: 2 sites, 1 repeat
    .venv/bin/python benchmarks/bench.py                  # 2/8/32 sites, 3 repeats (long)
    .venv/bin/python benchmarks/bench.py --only overhead --sites 2 8 --modes sim

Installs the peers first (cached), runs the chosen workloads, writes one JSON file per
workload under benchmarks/results/ and re-renders the README's results table from them. A
platform that fails in a run is a row with its error, not the end of the run.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import peers_setup
from harness import BenchError, durations, median, save_results
from runners import cohort_runner, flower_runner, nvflare_runner
from runners.spec import Mode, RunResult, RunSpec

RUNNERS: dict[str, Callable[[RunSpec], RunResult]] = {
    "cohort": cohort_runner.run,
    "flower": flower_runner.run,
    "nvflare": nvflare_runner.run,
}
WORKLOADS = ("overhead", "parity", "aggregation", "scale", "large", "admin")


# Failures of a peer's own start-up on a busy machine, worth one more try (said in the output).
RETRY_ON = ("timed out during startup",)


def _attempt(platform: str, spec: RunSpec, retries: int = 1) -> RunResult | str:
    """Run; a failure becomes its one-line reason (a known start-up flake is tried again)."""
    try:
        return RUNNERS[platform](spec)
    except (BenchError, OSError, ValueError) as exc:
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        if retries and any(flake in reason for flake in RETRY_ON):
            print(f"{platform}: trying again after: {reason}", flush=True)
            return _attempt(platform, spec, retries - 1)
        return reason


def overhead(args: argparse.Namespace) -> None:
    """Workload 1: seconds per round (rounds 2..N) and total peak memory, per platform."""
    rows: list[dict[str, Any]] = []
    for mode in args.modes:
        for sites in args.sites:
            group: list[dict[str, Any]] = []
            for platform in args.platforms:
                spec = RunSpec("overhead", sites, args.rounds, args.params, mode)
                per_run, peaks, walls, errors = [], [], [], []
                for _ in range(args.repeat):
                    print(f"overhead: {platform} {mode} {sites} sites", flush=True)
                    res = _attempt(platform, spec)
                    if isinstance(res, str):
                        errors.append(res)
                        continue
                    per_run.append(median(durations(res.model_times)))
                    peaks.append(res.peak_mb)
                    walls.append(res.wall_s)
                row = {
                    "mode": mode,
                    "sites": sites,
                    "platform": platform,
                    "round_s": round(median(per_run), 4) if per_run else None,
                    "peak_mb": round(median(peaks), 1) if peaks else None,
                    "wall_s": round(median(walls), 2) if walls else None,
                    "runs": [round(x, 4) for x in per_run],
                    "errors": errors,
                }
                print(row, flush=True)
                group.append(row)
            _ratios(group)
            rows.extend(group)
    save_results("overhead", rows, params=args.params, rounds=args.rounds, repeat=args.repeat)


def scale(args: argparse.Namespace) -> None:
    """Workload 2: many simulated sites, a 100k-parameter model, 3 rounds; wall and memory."""
    rows: list[dict[str, Any]] = []
    for sites in args.scale_sites:
        group: list[dict[str, Any]] = []
        for platform in args.platforms:
            spec = RunSpec("overhead", sites, 3, 100_000, "sim", timeout=args.scale_timeout)
            print(f"scale: {platform} {sites} sites", flush=True)
            res = _attempt(platform, spec)
            row: dict[str, Any] = {"mode": "sim", "sites": sites, "platform": platform}
            if isinstance(res, str):
                row.update(wall_s=None, peak_mb=None, round_s=None, errors=[res])
            else:
                row.update(
                    wall_s=round(res.wall_s, 2),
                    peak_mb=round(res.peak_mb, 1),
                    round_s=round(median(durations(res.model_times)), 3),
                    errors=[],
                )
            print(row, flush=True)
            group.append(row)
        _ratios(group, ("wall_s", "round_s", "peak_mb"))
        rows.extend(group)
    save_results("scale", rows, params=100_000, rounds=3, timeout_s=args.scale_timeout)


def _ratios(group: list[dict[str, Any]], keys: tuple[str, ...] = ("round_s", "peak_mb")) -> None:
    """Cohort's value over the best peer's, for time and memory (below 1: Cohort leads)."""
    cohort = next((r for r in group if r["platform"] == "cohort"), None)
    for key in keys:
        peers = [r[key] for r in group if r["platform"] != "cohort" and r[key] is not None]
        if cohort and cohort[key] is not None and peers:
            cohort[f"{key}_vs_best_peer"] = round(cohort[key] / min(peers), 3)


def parity(args: argparse.Namespace) -> None:
    """Workload 6: the same FedAvg on Cohort and Flower; max abs difference of the models."""
    rows: list[dict[str, Any]] = []
    spec = RunSpec("parity", 3, 3, 0, "sim")
    finals: dict[str, list[np.ndarray]] = {}
    for platform in ("cohort", "flower"):
        if platform not in args.platforms:
            continue
        print(f"parity: {platform}", flush=True)
        res = _attempt(platform, spec)
        if isinstance(res, str):
            rows.append({"platform": platform, "error": res})
        else:
            finals[platform] = res.final
    if len(finals) == 2:
        a, b = finals["cohort"], finals["flower"]
        diff = max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))
        rows.append(
            {
                "platforms": "cohort vs flower",
                "sites": spec.sites,
                "rounds": spec.rounds,
                "max_abs_diff": diff,
                "holds_to_1e-6": diff <= 1e-6,
                "max_abs_weight": max(float(np.abs(x).max()) for x in a),
            }
        )
    print(rows, flush=True)
    save_results("parity", rows)


def aggregation(args: argparse.Namespace) -> None:
    """Workload 4 (Cohort only: the bound is numpy on the same machine)."""
    import aggregation as agg

    params = 5_000_000 if args.quick else 25_000_000
    rows = agg.measure(params, 32, 1 if args.quick else 3)
    print(rows, flush=True)
    save_results("aggregation", rows, params=params, updates=32)


def large(args: argparse.Namespace) -> None:
    """Workload 3 (Cohort against the loopback limit measured in the same run)."""
    import large_model

    mb = 128 if args.quick else 1024
    try:
        rows = large_model.measure(mb)
    except BenchError as exc:
        rows = [{"model_mb": mb, "error": str(exc).splitlines()[0][:200]}]
    print(rows, flush=True)
    save_results("large_model", rows)


def admin(args: argparse.Namespace) -> None:
    """Workload 5 (Cohort only: the peers' admin APIs are not comparable calls)."""
    import admin as admin_bench

    jobs = 10_000  # seeding takes about a minute; list_jobs over 10,000 is the point
    rows = admin_bench.measure(jobs, 50, 10 if args.quick else 20)
    print(rows, flush=True)
    save_results("admin", rows)


STEPS: dict[str, Callable[[argparse.Namespace], None]] = {
    "overhead": overhead,
    "parity": parity,
    "aggregation": aggregation,
    "scale": scale,
    "large": large,
    "admin": admin,
}


def main() -> None:
    """Parse arguments, install peers, run the workloads, render the README table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 sites, 1 repeat, small sizes")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--platforms", nargs="*", choices=list(RUNNERS), default=list(RUNNERS))
    parser.add_argument("--modes", nargs="*", choices=["sim", "poc"], default=None)
    parser.add_argument("--sites", nargs="*", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--params", type=int, default=1_000_000)
    parser.add_argument("--scale-sites", nargs="*", type=int, default=None)
    parser.add_argument("--scale-timeout", type=float, default=None)
    args = parser.parse_args()
    modes: list[Mode] = args.modes or ["sim", "poc"]
    args.modes = modes
    args.sites = args.sites or ([2] if args.quick else [2, 8, 32])
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.scale_sites = args.scale_sites or ([200] if args.quick else [1000, 10000])
    args.scale_timeout = args.scale_timeout or (600.0 if args.quick else 3600.0)
    peers = [p for p in ("flower", "nvflare") if p in args.platforms]
    for peer in peers:
        peers_setup.install(peer)
    for name in args.only:
        STEPS[name](args)
    import render

    render.main()


if __name__ == "__main__":
    main()
