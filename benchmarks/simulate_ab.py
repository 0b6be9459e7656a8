"""A/B of `cohort simulate` between two source trees, interleaved: CPU seconds and s/round.

Runs the same job with ``--base-src`` (e.g. ``git archive main src | tar -x -C /tmp/base``)
and with this checkout's ``src``, alternating, each in a child process under
``/usr/bin/time``. A round's time is read from the mtimes of ``models/round-N.safetensors``
(median of rounds 2..R); the CPU seconds are user + sys of the whole run, less sensitive than
wall time to other work on the machine. The job is copied with ``min_clients`` set to the site
count and ``num_rounds`` to ``--rounds``.

    .venv/bin/python benchmarks/simulate_ab.py --base-src /tmp/base/src \\
        -j /work/notes/simjob/job -n 8 --rounds 5 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
RUN = "from cohort.cli.main import main; main()"


def _job_copy(job: Path, sites: int, rounds: int, into: Path) -> Path:
    target = into / "job"
    shutil.copytree(job, target)
    meta = json.loads((target / "meta.json").read_text())
    meta["min_clients"] = sites
    (target / "meta.json").write_text(json.dumps(meta))
    for server in target.glob("*/config/config_fed_server.json"):
        config = json.loads(server.read_text())
        config["args"]["num_rounds"] = rounds
        server.write_text(json.dumps(config))
    return target


def _run(src: Path, job: Path, sites: int, rounds: int, ws: Path) -> tuple[float, float]:
    """One simulation: (user + sys CPU seconds, median seconds per round over rounds 2..R)."""
    shutil.rmtree(ws, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = ["/usr/bin/time", "-f", "%U %S", sys.executable, "-c", RUN, "simulate"]
    cmd += ["-j", str(job), "-n", str(sites), "-w", str(ws), "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"simulate failed:\n{done.stdout}\n{done.stderr}")
    user, system = map(float, done.stderr.strip().splitlines()[-1].split())
    stamps = [(ws / "models" / f"round-{i}.safetensors").stat().st_mtime for i in range(rounds + 1)]
    per_round = statistics.median(stamps[i] - stamps[i - 1] for i in range(2, rounds + 1))
    return user + system, per_round


def main() -> None:
    """Parse the arguments, run both trees in turn, print each run and the medians' ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", type=Path, required=True, help="the 'before' src folder")
    parser.add_argument("-j", "--job", type=Path, required=True)
    parser.add_argument("-n", "--sites", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    trees = {"before": args.base_src.resolve(), "after": HERE / "src"}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="simulate-ab-") as tmp:
        job = _job_copy(args.job, args.sites, args.rounds, Path(tmp))
        for _ in range(args.repeat):
            for name, src in trees.items():
                cpu, per_round = _run(src, job, args.sites, args.rounds, Path(tmp) / name)
                runs[name].append((cpu, per_round))
                print(
                    f"{name:6} n={args.sites} cpu {cpu:.2f} s  {per_round:.3f} s/round", flush=True
                )
    cpu = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    rnd = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    print(
        f"medians: cpu {cpu['before']:.2f} -> {cpu['after']:.2f} s "
        f"(x{cpu['after'] / cpu['before']:.2f}); s/round {rnd['before']:.3f} -> "
        f"{rnd['after']:.3f} (x{rnd['after'] / rnd['before']:.2f})"
    )


if __name__ == "__main__":
    main()
