"""Sim-to-real parity: the same job, seed and data in the simulator and on a real federation
(server and three site agents over mTLS on loopback) end with the same global model, round by
round: hello-numpy, and a float64 job whose results reach the server in reverse site order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.schemas.records import JobRecord
from cohort.simulate import simulate
from cohort.states import JobStatus
from tests.integration.federation import Federation, make_job, run_job, running_federation
from tests.simulate.conftest import HELLO

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("parity")]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Server and three sites, shared: each test runs its own job on them."""
    with running_federation(tmp_path_factory, 3) as federation:
        yield federation


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert set(a) == set(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)


def _models(result: Path) -> list[Path]:
    return sorted((result / "workspace" / "models").glob("round-*.safetensors"))


def test_simulation_gives_the_global_model_of_a_real_federation(
    fed: Federation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    sim = simulate(HELLO, 3, workspace=tmp_path / "sim", progress=False)
    assert sim.status == JobStatus.FINISHED_OK, sim.reason
    real = run_job(fed, HELLO, tmp_path / "real")

    # The same sites, and every global model of the trail (the final one included) the same.
    real_meta = JobRecord.model_validate_json((real / "meta.json").read_text())
    sim_meta = JobRecord.model_validate_json((sim.result_dir / "meta.json").read_text())
    assert real_meta.sites == sim_meta.sites == ["site-1", "site-2", "site-3"]
    real_models = _models(real)
    sim_models = _models(sim.result_dir)
    assert [p.name for p in real_models] == [p.name for p in sim_models]
    assert len(sim_models) == 6
    diffs = {
        p.name: _max_diff(load_file(str(p)), load_file(str(q)))
        for p, q in zip(sim_models, real_models, strict=True)
    }
    final = _max_diff(
        load_file(str(sim.global_model)),
        load_file(str(real / "workspace" / "FL_global_model.safetensors")),
    )
    print(f"max abs diff per round {diffs}, final model {final}")  # the measured parity
    assert final <= 1e-6 and all(d <= 1e-6 for d in diffs.values()), diffs

    # The sites' evaluations agree too, and the result folders have the same files.
    real_summary = json.loads((real / "workspace" / "metrics_summary.json").read_text())
    sim_summary = json.loads((sim.result_dir / "workspace" / "metrics_summary.json").read_text())
    for got, want in zip(sim_summary["rounds"], real_summary["rounds"], strict=True):
        assert got["round"] == want["round"]
        assert got["metrics"] == pytest.approx(want["metrics"], abs=1e-6)

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}

    assert files(sim.result_dir) == files(real)


#: Each site adds its own float64 noise (seeded by site and round) and sends a different
#: sample count; site-1 answers last and site-3 first on the real federation, the reverse of
#: the simulator's (sorted) order. In float64 the weighted sum of three such vectors depends on
#: the order it is added in, in the last bits of most of the 4,096 elements: only folding in
#: task order on both sides gives the same bits.
REVERSED_SCRIPT = """
import time
import numpy as np
import cohort.client as flare

flare.init()
index = int(flare.get_site_name().split("-")[-1])
while flare.is_running():
    model = flare.receive()
    if flare.is_submit_model():
        w = np.random.default_rng(0).standard_normal(4096)  # float64
        flare.send(flare.FLModel(params={"w": w}, meta={"num_samples": 1}))
        continue
    if flare.is_evaluate():
        flare.send(flare.FLModel(metrics={"norm": float(np.linalg.norm(model.params["w"]))}))
        continue
    time.sleep(0.6 * (3 - index))  # site-1 last, site-3 first
    noise = np.random.default_rng(100 * index + model.current_round).standard_normal(4096)
    w = model.params["w"] * (1 + 0.1 * index) + noise / 3
    print(f"sent round {model.current_round} at {time.time():.6f}", flush=True)
    flare.send(flare.FLModel(params={"w": w}, meta={"num_samples": 7 * index + 3}))
"""


def _send_times(result: Path, site: str) -> list[float]:
    log = (result / "workspace" / site / "log.txt").read_text()
    return [float(line.rsplit(" ", 1)[1]) for line in log.splitlines() if "sent round" in line]


def test_results_arriving_in_another_order_give_the_same_bits(
    fed: Federation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    job = make_job(tmp_path / "reversed", REVERSED_SCRIPT, num_rounds=3, min_clients=3)
    sim = simulate(job, 3, workspace=tmp_path / "sim", progress=False)
    assert sim.status == JobStatus.FINISHED_OK, sim.reason
    real = run_job(fed, job, tmp_path / "real")

    # On the real federation the results were sent in reverse site order, every round.
    sent = {site: _send_times(real, site) for site in ("site-1", "site-2", "site-3")}
    assert all(len(times) == 3 for times in sent.values()), sent
    for rnd in range(3):
        assert sent["site-3"][rnd] < sent["site-2"][rnd] < sent["site-1"][rnd], sent

    sim_models, real_models = _models(sim.result_dir), _models(real)
    assert [p.name for p in sim_models] == [p.name for p in real_models]
    assert len(sim_models) == 4
    for p, q in zip(sim_models, real_models, strict=True):
        a, b = load_file(str(p)), load_file(str(q))
        assert a["w"].dtype == np.float64
        assert np.array_equal(a["w"], b["w"]), (p.name, _max_diff(a, b))

    # And the model is the weighted mean computed here in site order.
    w = load_file(str(sim_models[0]))["w"]
    for rnd in (1, 2, 3):
        total = np.zeros_like(w)
        for index in (1, 2, 3):
            noise = np.random.default_rng(100 * index + rnd).standard_normal(4096)
            total += (7 * index + 3) * (w * (1 + 0.1 * index) + noise / 3)
        w = total / (10 + 17 + 24)
        assert np.allclose(w, load_file(str(sim_models[rnd]))["w"], rtol=0, atol=1e-12)
