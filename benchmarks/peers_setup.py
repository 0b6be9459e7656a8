"""Install the peer platforms into their own virtual environments under ``bench-cache/``.

Idempotent and cached: each environment carries a marker naming what was installed, and a
second run with the same pins does nothing. Nothing of the peers lands in the source tree.

    .venv/bin/python benchmarks/peers_setup.py            # both peers
    .venv/bin/python benchmarks/peers_setup.py flower     # one of them

Flower 1.42.0 asks for ``certifi>=2026.10.19``, newer than the index has; its requirements are
installed with that one relaxed, then the flwr wheel itself with ``--no-deps``
(see shared/reference/peers.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench-cache"

FLWR_VERSION = "1.42.0"
RAY_VERSION = "2.55.1"
NVFLARE_VERSION = "2.9.0"
# Relaxations of a peer's own requirements that the index here cannot satisfy.
FLWR_RELAX = {"certifi": "certifi>=2026.10.18"}

PEERS = {
    "flower": {"flwr": FLWR_VERSION, "ray": RAY_VERSION},
    "nvflare": {"nvflare": NVFLARE_VERSION},
}


def venv_dir(peer: str) -> Path:
    """The virtual environment folder of a peer."""
    return CACHE / f"venv-{peer}"


def venv_python(peer: str) -> Path:
    """The Python interpreter of a peer's virtual environment."""
    return venv_dir(peer) / "bin" / "python"


def venv_bin(peer: str, name: str) -> Path:
    """A console script of a peer's virtual environment."""
    return venv_dir(peer) / "bin" / name


def is_installed(peer: str) -> bool:
    """Whether the peer's environment holds exactly the pinned versions."""
    marker = venv_dir(peer) / ".bench-installed"
    try:
        return bool(json.loads(marker.read_text()) == PEERS[peer])
    except (OSError, ValueError):
        return False


def _pip(peer: str, *args: str) -> None:
    subprocess.run([str(venv_python(peer)), "-m", "pip", "install", "-q", *args], check=True)


def _flwr_requirements(wheel: Path) -> list[str]:
    """flwr's base requirements from its wheel metadata, with the relaxations applied."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(name).decode().splitlines()
    reqs = []
    for line in lines:
        if not line.startswith("Requires-Dist: ") or "extra ==" in line:
            continue
        req = line.removeprefix("Requires-Dist: ").strip()
        base = req.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip()
        reqs.append(FLWR_RELAX.get(base, req))
    return reqs


def install(peer: str) -> None:
    """Create the peer's environment (from scratch if a previous attempt was incomplete)."""
    if is_installed(peer):
        print(f"{peer}: cached in {venv_dir(peer)}")
        return
    print(f"{peer}: installing into {venv_dir(peer)} (a few minutes)", flush=True)
    shutil.rmtree(venv_dir(peer), ignore_errors=True)
    CACHE.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir(peer))], check=True)
    if peer == "flower":
        with tempfile.TemporaryDirectory() as tmp:
            download = ["-m", "pip", "download", "-q", "--no-deps", "-d", tmp]
            subprocess.run([venv_python(peer), *download, f"flwr=={FLWR_VERSION}"], check=True)
            wheel = next(Path(tmp).glob("flwr-*.whl"))
            _pip(peer, *_flwr_requirements(wheel), f"ray=={RAY_VERSION}")
            _pip(peer, "--no-deps", str(wheel))
    else:
        _pip(peer, f"nvflare=={NVFLARE_VERSION}")
    (venv_dir(peer) / ".bench-installed").write_text(json.dumps(PEERS[peer]))
    print(f"{peer}: installed", flush=True)


def main() -> None:
    """Install the peers named on the command line (default: all)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peers", nargs="*", help=f"any of {', '.join(PEERS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    for peer in args.peers or list(PEERS):
        install(peer)


if __name__ == "__main__":
    main()
