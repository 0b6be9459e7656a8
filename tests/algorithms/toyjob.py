"""A deterministic site script and job folders for checking each workflow's server step in
the simulator against numpy.

Site ``site-i`` answers round ``r``'s train task with ``x + offset(i, r)`` (SCAFFOLD: K
gradient steps on ``0.5 * ||y - target(i)||^2``; cyclic: ``0.5 * x + i``), weighted by
``10 * i`` samples, and a validate task with the score ``sum(w) + 1000 * i``. With
``--attacker N`` site N sends ``x + 1e6`` instead.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.integration.federation import make_job

SCRIPT = """
import argparse
import numpy as np
import cohort.client as flare
from cohort.client.fedprox import get_mu
from cohort.client.scaffold import ScaffoldClient

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="offset")
parser.add_argument("--attacker", type=int, default=0)
args = parser.parse_args()
flare.init()
i = int(flare.get_site_name().rsplit("-", 1)[1])
scaffold = ScaffoldClient()
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    if flare.is_submit_model():
        flare.send(flare.FLModel(params={"w": np.arange(4.0)}, meta={"num_samples": 1}))
        continue
    if flare.is_evaluate():
        score = float(np.sum(model.params["w"])) + 1000 * i
        flare.send(flare.FLModel(metrics={"score": score}))
        continue
    r = model.current_round
    metrics = {"mu": get_mu(model)}
    if args.mode == "scaffold":
        x = scaffold.receive(model.params)
        y = {"w": x["w"].copy()}
        for _ in range(3):
            grad = y["w"] - i * np.array([1.0, 2.0, 3.0, 4.0])
            y["w"] = y["w"] - 0.1 * (grad + scaffold.correction()["w"])
        params = scaffold.update(y, 3, 0.1)
    elif args.mode == "cyclic":
        params = {"w": 0.5 * model.params["w"] + i}
    elif i == args.attacker:
        params = {"w": model.params["w"] + 1e6}
    else:
        params = {"w": model.params["w"] + offset(i, r)}
    flare.send(flare.FLModel(params=params, metrics=metrics, meta={"num_samples": 10 * i}))
"""


def offset(i: int, r: int) -> np.ndarray:
    """What site ``i`` adds in round ``r`` (the script runs this function's source)."""
    # Not collinear in i, so Krum's scores have no ties.
    step = 0.1 * i * (1 + r) * np.array([1.0, -1.0, 2.0, 0.5])
    return np.asarray(step + 0.03 * i * i * np.array([0.0, 1.0, 0.0, -1.0]) - 0.2 * r)


X0 = np.arange(4.0)  # the initial model site-1 submits


def toy_job(
    folder: Path, workflow: str, args: dict[str, Any], script_args: list[str] | None = None
) -> Path:
    """A job folder running the toy script under ``workflow`` with ``args``."""
    # The script computes its offsets with this module's own function: one definition.
    source = SCRIPT.replace("flare.init()", inspect.getsource(offset) + "\nflare.init()", 1)
    job = make_job(folder, source, min_clients=2, wait_after_min=30.0, task_timeout=60.0)
    config = job / "app" / "config"
    (config / "config_fed_server.json").write_text(
        json.dumps({"workflow": workflow, "args": {"task_timeout": 60.0, **args}})
    )
    (config / "config_fed_client.json").write_text(
        json.dumps({"script": "custom/train.py", "args": script_args or []})
    )
    return job
