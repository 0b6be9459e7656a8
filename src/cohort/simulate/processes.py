"""The processes back end: sites spread over ``threads`` worker processes (spawned), one site
working per process at a time.

Each worker hosts its share of the sites as threads (the threads back end's site runner) with a
single run slot, so at most ``threads`` sites work at once, in parallel. Worker and simulator
talk over a pipe in messages of a JSON header plus, for results, the safetensors bytes: nothing
crosses the boundary pickled. Workers read a task's model from the workspace file the server
side wrote, as a site downloads it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import queue
import resource
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Unpack

from cohort.simulate.hosting import (
    BackendArgs,
    HostedBackend,
    HostLink,
    deliver_to_sites,
    handle_host_message,
    report_lost_sites,
    run_hosted_sites,
)
from cohort.simulate.site import SiteInbox

__all__ = ["ProcessesBackend", "worker_main"]


def _send(
    conn: Connection, lock: threading.Lock, header: dict[str, Any], payload: bytes = b""
) -> None:
    data = json.dumps({**header, "payload": bool(payload)}).encode()
    with lock:
        conn.send_bytes(data)
        if payload:
            conn.send_bytes(payload)


def _recv(conn: Connection) -> tuple[dict[str, Any], bytes]:
    header: dict[str, Any] = json.loads(conn.recv_bytes())
    payload = conn.recv_bytes() if header.get("payload") else b""
    return header, payload


def rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# -- the worker process -----------------------------------------------------------------------
def _worker_reader(conn: Connection, inboxes: dict[str, SiteInbox], link: HostLink) -> None:
    while True:
        try:
            msg, _ = _recv(conn)
        except Exception:  # the simulator is gone, or its stream broke: end here too
            msg = {"type": "stop"}
            link.simulator_gone()
        if deliver_to_sites(msg, inboxes, link):
            return


def worker_main(config_json: str, conn: Connection) -> None:
    """Entry point of a worker process: run its sites until the job is over."""
    # Ctrl-C reaches the whole process group: the simulator handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cfg = json.loads(config_json)
    sites: list[str] = cfg["sites"]
    lock = threading.Lock()
    link = HostLink(lambda header, payload: _send(conn, lock, header, payload), sites)
    inboxes = {site: SiteInbox() for site in sites}
    reader = threading.Thread(target=_worker_reader, args=(conn, inboxes, link), daemon=True)
    reader.start()
    run_hosted_sites(cfg, sites, inboxes, link)
    with contextlib.suppress(OSError):
        link.send({"type": "done", "peak_rss_mb": rss_mb()})


# -- the simulator's side ---------------------------------------------------------------------
class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection, sites: list[str]) -> None:
        self.process = process
        self.conn = conn
        self.sites = sites
        self.lock = threading.Lock()
        self.reader: threading.Thread | None = None
        self.peak_rss_mb = 0.0


class ProcessesBackend(HostedBackend[_Worker]):
    """Runs the sites in ``workers`` spawned processes."""

    def __init__(self, **args: Unpack[BackendArgs]) -> None:
        super().__init__(**args)
        # Messages to workers are written by one thread, never by the caller's: a Ctrl-C in
        # the main thread must not cut a message in half and leave a worker deaf to "stop".
        self.outbox: queue.SimpleQueue[tuple[_Worker, dict[str, Any]] | None] = queue.SimpleQueue()
        self.sender = threading.Thread(target=self._write, daemon=True)

    def start(self) -> None:
        """Spawn the workers and a reader thread for each."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.sender.start()
        mp = multiprocessing.get_context("spawn")
        for index, group in enumerate(self.groups):
            ours, theirs = mp.Pipe(duplex=True)
            config = json.dumps({**self.base, "sites": group})
            process = mp.Process(
                target=worker_main,
                args=(config, theirs),
                name=f"cohort-simulate-worker-{index + 1}",
                daemon=True,
            )
            process.start()
            theirs.close()
            worker = _Worker(process, ours, group)
            worker.reader = threading.Thread(target=self._read, args=(worker,), daemon=True)
            worker.reader.start()
            self.hosts.append(worker)
            self.by_site.update(dict.fromkeys(group, worker))

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                msg, payload = _recv(worker.conn)
            except (EOFError, OSError):
                break
            if msg["type"] == "done":
                worker.peak_rss_mb = float(msg["peak_rss_mb"])
                break
            reply = handle_host_message(self.link, msg, payload, self.reported)
            if reply is not None:
                self._send(worker, reply)
        worker.process.join(5.0)
        code = worker.process.exitcode
        why = f"worker process ended with exit code {code} before the site's script did"
        report_lost_sites(self.link, worker.sites, self.reported, 1 if code is None else code, why)

    def _send(self, worker: _Worker, header: dict[str, Any]) -> None:
        with contextlib.suppress(OSError, ValueError):
            _send(worker.conn, worker.lock, header)

    def _write(self) -> None:
        while (item := self.outbox.get()) is not None:
            self._send(*item)

    def post(self, host: _Worker, message: dict[str, Any]) -> None:
        """Queue ``message`` for the sender thread to write to the worker."""
        self.outbox.put((host, message))

    def join(self, timeout: float) -> list[str]:
        """Wait for the workers to end; kill those still running after ``timeout`` seconds and
        return their sites."""
        deadline = time.monotonic() + timeout
        stuck: list[str] = []
        for worker in self.hosts:
            worker.process.join(max(deadline - time.monotonic(), 0.0))
            if worker.process.is_alive():
                stuck.extend(worker.sites)
                worker.process.kill()
                worker.process.join(5.0)
            if worker.reader is not None:
                worker.reader.join(10.0)
        self.outbox.put(None)
        if self.sender.is_alive():
            self.sender.join(10.0)
        for worker in self.hosts:
            worker.conn.close()
        return sorted(stuck)
