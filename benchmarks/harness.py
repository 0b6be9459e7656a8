"""What every benchmark needs: tagged processes with their total peak memory, cleanup of
everything a run started, results files, medians and the machine's description.

A run's processes all carry ``BENCH_TAG=<uuid>`` in their environment (children inherit it,
including daemons such as Ray's that leave the process tree), so the harness can add up their
resident memory while they run and stop every one of them, by pid, when the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench-cache"
WORK = CACHE / "work"
RESULTS = ROOT / "benchmarks" / "results"
PAGE = os.sysconf("SC_PAGE_SIZE")


def tagged_pids(tag: str) -> list[int]:
    """Pids of live processes whose environment carries ``BENCH_TAG=tag``."""
    needle = f"BENCH_TAG={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (0 once it has gone)."""
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class MemorySampler:
    """Samples the summed RSS of a tag's processes in a thread; ``peak_mb`` is the maximum.

    With ``match``, only the processes whose command line contains it count.

    Summed RSS counts shared pages (libraries) once per process: an upper bound, the same way
    for every platform.
    """

    def __init__(self, tag: str, interval: float = 0.25, match: str = "") -> None:
        self.tag = tag
        self.match = match.encode()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._pids: list[int] = []
        self._last_scan = 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        """One sample; the pid list is refreshed every second (a /proc scan is not free)."""
        now = time.monotonic()
        if now - self._last_scan > 1.0:
            self._pids = [p for p in tagged_pids(self.tag) if self.match in _cmdline(p)]
            self._last_scan = now
        self.peak = max(self.peak, sum(rss_bytes(p) for p in self._pids))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        """The largest summed RSS seen, in MiB."""
        return self.peak / 2**20


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def kill_tagged(tag: str, grace: float = 5.0) -> None:
    """SIGTERM every process of the tag, then SIGKILL whatever is left after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [p for p in tagged_pids(tag) if p != os.getpid()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _alive(p)]
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Tagged:
    """A group of processes started under one tag; stops them all on exit."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """This process's environment plus the tag and ``extra``."""
        env = dict(os.environ)
        env.update(extra or {})
        env["BENCH_TAG"] = self.tag
        return env

    def start(
        self,
        cmd: Sequence[str | Path],
        *,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` in its own session with output to ``log``."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(env),
                cwd=cwd,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def run(
        self,
        cmd: Sequence[str | Path],
        *,
        log: Path,
        timeout: float,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Run ``cmd`` to its end; raise with the log's tail when it fails or overruns."""
        proc = self.start(cmd, log=log, env=env, cwd=cwd)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{Path(cmd[0]).name} ran over {timeout} s (log {log})") from None
        if code != 0:
            why = last_error(log)
            raise BenchError(f"{Path(cmd[0]).name} exited {code}: {why} (log {log})")

    def __enter__(self) -> Tagged:
        return self

    def __exit__(self, *exc: object) -> None:
        kill_tagged(self.tag)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


class BenchError(RuntimeError):
    """A measurement could not be taken (a platform failed, ran over, or is not installed)."""


def last_error(path: Path) -> str:
    """The last log line that names an error (else the last line): the one-line reason."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["(empty log)"])[-1][:300]


def fresh_dir(*parts: str) -> Path:
    """An empty folder under ``bench-cache/work``."""
    path = WORK.joinpath(*parts)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``predicate()`` until true; raise BenchError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def durations(times: Sequence[float], first: int = 2) -> list[float]:
    """Seconds of rounds ``first..N`` from the times global models 0..N came into being."""
    return [times[r] - times[r - 1] for r in range(first, len(times))]


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return float(statistics.median(values)) if values else float("nan")


def machine() -> dict[str, Any]:
    """What the numbers were taken on, and how busy the machine was."""
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "memory_gib": round(int(mem) / 2**20, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def save_results(workload: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    """Write ``benchmarks/results/<workload>.json``: the rows, the machine and ``extra``."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{workload}.json"
    data = {"workload": workload, "machine": machine(), **extra, "rows": rows}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t:`` leaves the elapsed seconds in ``t[0]``."""
    box: list[float] = []
    start = time.monotonic()
    try:
        yield box
    finally:
        box.append(time.monotonic() - start)
