"""A virtual site: its unchanged script run in a thread, and the transport to the simulated server.

The script talks to the server through :class:`SiteTransport`, a :class:`ClientTransport` like
the HTTPS one: tasks arrive in the site's :class:`SiteInbox`, results go to a :class:`SiteLink`
(the in-process server, or a pipe to it from a worker process). A :class:`Slot` bounds how many
sites run at once: a site holds one while its script runs, and gives it back only while it
waits for its next task, so a thousand site threads may exist while ``threads`` of them work.
"""

from __future__ import annotations

import builtins
import queue
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any, Protocol

from cohort.client import api
from cohort.client.transport import ClientTransport, ReceivedTask
from cohort.schemas.fleet import TaskHeader
from cohort.schemas.job import ClientAppConfig
from cohort.simulate.streams import SiteLog, site_output
from cohort.wire.payload import PayloadHeader, read_payload_file
from cohort.wire.tensors import iter_file_tensors

__all__ = [
    "SiteInbox",
    "SiteLink",
    "SiteScript",
    "SiteTransport",
    "Slot",
    "TaskOffer",
    "exit_error",
    "run_site",
]


class SiteLink(Protocol):
    """What a site's script reaches of the simulated server."""

    def slot_wait(self, site: str, waiting: bool) -> None:
        """The site starts (True) or stops (False) waiting for a run slot."""

    def submit_result(self, site: str, task: TaskHeader, payload: bytes) -> None:
        """Deliver an encoded result; raises the CohortError the server would answer with."""

    def submit_params(
        self, site: str, task: TaskHeader, params: Mapping[str, Any], header: PayloadHeader
    ) -> None:
        """Deliver a result as tensors and header, as :meth:`submit_result` would encoded."""

    def log_metrics(self, site: str, records: list[dict[str, Any]]) -> None:
        """Deliver metric records logged with ``flare.log``."""

    def site_exited(self, site: str, code: int, error: str, tail: str) -> None:
        """The site's script ended (with ``code``; ``error`` says how, ``tail`` its output)."""


@dataclass(frozen=True)
class TaskOffer:
    """A task as queued for a site: its header and the model file it carries ("" for none)."""

    task: TaskHeader
    model_path: str


class SiteInbox:
    """Tasks waiting for one site. Holds headers and paths only: never a model."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[TaskOffer | None] = queue.SimpleQueue()
        self.cancelled: set[str] = set()
        self.closed = False

    def put(self, offer: TaskOffer) -> None:
        """Queue a task."""
        self._queue.put(offer)

    def cancel(self, task_id: str) -> None:
        """Drop a queued task: its result is no longer wanted."""
        self.cancelled.add(task_id)

    def close(self) -> None:
        """The job is over: the site's next fetch returns None."""
        self.closed = True
        self._queue.put(None)

    def get(self) -> TaskOffer | None:
        """Block until the next task, or None once the job is over."""
        offer = self._queue.get()
        if offer is None:
            self._queue.put(None)  # the job stays over for any later call
        return offer


class Slot:
    """One site's claim on a shared run slot (a semaphore of size ``threads``)."""

    def __init__(self, site: str, slots: threading.Semaphore, link: SiteLink) -> None:
        self.site = site
        self.slots = slots
        self.link = link
        self.held = False

    def acquire(self) -> None:
        """Take a slot, telling the server while this site waits for one (task clocks stop)."""
        if self.held:
            return
        if not self.slots.acquire(blocking=False):
            self.link.slot_wait(self.site, True)
            self.slots.acquire()
            self.link.slot_wait(self.site, False)
        self.held = True

    def release(self) -> None:
        """Give the slot back (no-op when not held)."""
        if self.held:
            self.held = False
            self.slots.release()


class SiteTransport(ClientTransport):
    """The client API's transport for a virtual site."""

    def __init__(self, site: str, inbox: SiteInbox, slot: Slot, link: SiteLink) -> None:
        self.site = site
        self.inbox = inbox
        self.slot = slot
        self.link = link

    def fetch_task(self) -> ReceivedTask | None:
        """Wait (without a slot) for the next task; load its model once a slot is free."""
        while True:
            self.slot.release()
            offer = self.inbox.get()
            if offer is None:
                self.slot.acquire()  # what the script does after its loop is work too
                return None
            if offer.task.task_id in self.inbox.cancelled:
                self.inbox.cancelled.discard(offer.task.task_id)
                continue
            self.slot.acquire()
            if offer.task.task_id in self.inbox.cancelled:
                self.inbox.cancelled.discard(offer.task.task_id)
                continue
            if not offer.model_path:  # a task with no model (submit_model), as the server sends
                header = PayloadHeader(kind="model", current_round=offer.task.current_round)
                return ReceivedTask(offer.task, {}, header)
            # Copy-on-write views of the global model's file, not a copy per site: the sites
            # of a round share its pages, and a script that writes to an array gets its own.
            path = Path(offer.model_path)
            header = read_payload_file(path)
            return ReceivedTask(offer.task, dict(iter_file_tensors(path)), header)

    def send_result(self, task: TaskHeader, payload: bytes) -> None:
        """Hand the result to the server, which checks it as the HTTPS route does."""
        self.link.submit_result(self.site, task, payload)

    def send_params(
        self, task: TaskHeader, params: Mapping[str, Any], header: PayloadHeader
    ) -> None:
        """Hand the result over as tensors: the link encodes them (the board straight into
        the update's file), so no encoded copy of the whole update is made here."""
        self.link.submit_params(self.site, task, params, header)

    def log_metrics(self, records: list[dict[str, Any]]) -> None:
        """Hand metric records to the server."""
        self.link.log_metrics(self.site, records)


@dataclass(frozen=True)
class SiteScript:
    """A client app's script, compiled once and run by every site of the app."""

    path: Path
    app_dir: Path
    args: list[str]
    env: dict[str, str]
    code: CodeType | None
    error: SyntaxError | None = None  # raised by every site, as `python script.py` would

    @classmethod
    def load(cls, app_dir: Path, config: ClientAppConfig) -> SiteScript:
        """Read and compile the script named by the app's client configuration."""
        path = (app_dir / config.script).resolve()
        args, env = list(config.args), dict(config.env)
        try:
            code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            return cls(path, app_dir.resolve(), args, env, None, exc)
        return cls(path, app_dir.resolve(), args, env, code)

    def run(self) -> None:
        """Run the script as ``python <script>`` would, as ``__main__``.

        Not with :func:`runpy.run_path`: that swaps ``sys.modules['__main__']`` and
        ``sys.argv[0]`` for the duration, which many threads at once would leave tangled.
        """
        if self.code is None:
            assert self.error is not None
            raise SyntaxError(*self.error.args)  # a fresh one per site: tracebacks stay apart
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__file__": str(self.path),
            "__builtins__": builtins,
            "__doc__": None,
            "__package__": None,
            "__spec__": None,
            "__loader__": None,
            "__cached__": None,
        }
        exec(self.code, namespace)  # noqa: S102 - the job's own script, as a site runs it


def exit_error(code: int, last_line: str) -> str:
    """The failure a site reports when its script ends (the site agent's words)."""
    if code != 0:
        return f"script exited with code {code}: {last_line}"
    return "script exited before the job finished"


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # as the interpreter does for sys.exit("message")
    return 1


def run_site(
    site: str,
    job_id: str,
    script: SiteScript,
    inbox: SiteInbox,
    slots: threading.Semaphore,
    link: SiteLink,
    log_path: Path,
) -> None:
    """Thread body of one site: run its script, then report how it ended."""
    log = SiteLog(log_path)
    slot = Slot(site, slots, link)
    transport = SiteTransport(site, inbox, slot, link)
    code = 0
    slot.acquire()  # starting up (imports, loading data) is work: it needs a slot too
    try:
        if inbox.closed:
            return  # the job ended before this site got to start: nothing ran, nothing to say
        with site_output(log):
            api.bind_thread(transport, site, job_id)
            try:
                script.run()
            except SystemExit as exc:
                code = _exit_code(exc)
            except BaseException as exc:
                code = 1
                # The traceback from the script's own frames on, as the interpreter prints it.
                tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
                traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
            finally:
                api.shutdown()
    finally:
        slot.release()
    link.site_exited(site, code, exit_error(code, log.last_line()), log.tail_text()[-20_000:])
