"""What a runner is asked to do and what it reports, the same for every platform."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from harness import ROOT, fresh_dir

Mode = Literal["sim", "poc"]
Workload = Literal["overhead", "parity"]


@dataclass(frozen=True)
class RunSpec:
    """One federated job: which work, how many sites and rounds, simulated or on loopback."""

    workload: Workload
    sites: int
    rounds: int
    params: int
    mode: Mode
    timeout: float = 900.0


@dataclass
class RunResult:
    """What one run cost: when each global model (0..rounds) came into being, the summed peak
    memory of every process of the platform, wall time, and the final global model."""

    model_times: list[float]
    peak_mb: float
    wall_s: float
    final: list[np.ndarray] = field(default_factory=list)
    logs: Path | None = None


def stage(platform: str, spec: RunSpec, app: Path, workloads_in: str) -> tuple[Path, Path]:
    """A fresh work folder for one run and a copy of the platform's app in it, with
    ``workloads.py`` copied into the app's ``workloads_in`` folder; returns both."""
    work = fresh_dir(platform, f"{spec.workload}-{spec.mode}-{spec.sites}")
    copy = work / "app"
    shutil.copytree(app, copy)
    shutil.copy(ROOT / "benchmarks" / "workloads.py", copy / workloads_in / "workloads.py")
    return work, copy
