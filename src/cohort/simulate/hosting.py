"""Sites hosted away from the simulator (a worker process, a Ray actor): the messages both use.

A host runs its share of the sites as threads with a single run slot. It and the simulator
exchange messages, each a JSON-able header plus, for results, the safetensors bytes:

- to the host: ``task`` (a task header and the model file it carries), ``cancel``, ``ack`` (the
  answer to a result: empty, or the error the server would give), ``stop`` (the job is over);
- from the host: ``slot`` (a site starts or stops waiting for the run slot), ``result``,
  ``metrics``, ``exit`` (a site's script ended), ``done`` (every site ended; the host's peak
  memory).

The transport (a pipe, Ray's method calls) only moves them; nothing here is pickled.
"""

from __future__ import annotations

import abc
import json
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, Protocol, TypedDict, TypeVar, Unpack

from cohort.errors import CohortError, error_from_envelope
from cohort.schemas.fleet import TaskHeader
from cohort.schemas.job import ClientAppConfig
from cohort.simulate.environment import script_environment
from cohort.simulate.site import SiteInbox, SiteLink, SiteScript, TaskOffer, run_site
from cohort.simulate.threads import STACK_BYTES
from cohort.wire.payload import PayloadHeader, encode_payload

__all__ = [
    "BackendArgs",
    "Host",
    "HostLink",
    "HostedBackend",
    "cancel_message",
    "deliver_to_sites",
    "handle_host_message",
    "host_config",
    "report_lost_sites",
    "run_hosted_sites",
    "spread",
    "task_message",
]

#: Sends one message (header, payload) from a host to the simulator.
Send = Callable[[dict[str, Any], bytes], None]


def host_config(
    *,
    job_id: str,
    app_dir: Path,
    client: ClientAppConfig,
    job_root: Path,
    logs_dir: Path,
    variables: dict[str, str],
    seed: int,
) -> dict[str, Any]:
    """What every host needs besides its sites, as JSON-able values."""
    return {
        "job_id": job_id,
        "app_dir": str(app_dir),
        "client": client.model_dump(mode="json"),
        "job_root": str(job_root),
        "logs_dir": str(logs_dir),
        "variables": variables,
        "seed": seed,
    }


# -- the host's side --------------------------------------------------------------------------
class HostLink(SiteLink):
    """A hosted site's link to the simulated server, through the host's ``send``."""

    def __init__(self, send: Send, sites: list[str]) -> None:
        self._send = send
        self.acks: dict[str, queue.SimpleQueue[dict[str, Any]]] = {
            site: queue.SimpleQueue() for site in sites
        }

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        """Send a message to the simulator."""
        self._send(header, payload)

    def slot_wait(self, site: str, waiting: bool) -> None:
        self.send({"type": "slot", "site": site, "waiting": waiting})

    def submit_result(self, site: str, task: TaskHeader, payload: bytes) -> None:
        self.send({"type": "result", "site": site, "task": task.model_dump(mode="json")}, payload)
        reply = self.acks[site].get()
        if reply.get("error"):
            raise error_from_envelope(reply)

    def submit_params(
        self, site: str, task: TaskHeader, params: Mapping[str, Any], header: PayloadHeader
    ) -> None:
        # Encoded here: the message to the simulator carries the safetensors bytes.
        self.submit_result(site, task, encode_payload(params, header))

    def log_metrics(self, site: str, records: list[dict[str, Any]]) -> None:
        # Through JSON: numpy scalars a script logged become plain numbers on every transport.
        self.send({"type": "metrics", "site": site, "records": json.loads(json.dumps(records))})

    def site_exited(self, site: str, code: int, error: str, tail: str) -> None:
        self.send({"type": "exit", "site": site, "code": code, "error": error, "tail": tail})

    def simulator_gone(self) -> None:
        """The simulator cannot be reached: every site waiting for an answer gets one."""
        gone = {"error": {"code": "JOB_NOT_RUNNING", "message": "the simulator ended"}}
        for acks in self.acks.values():
            acks.put(gone)


def deliver_to_sites(msg: dict[str, Any], inboxes: dict[str, SiteInbox], link: HostLink) -> bool:
    """Act on one message from the simulator; True once it says the job is over."""
    kind = msg["type"]
    if kind == "task":
        offer = TaskOffer(TaskHeader.model_validate(msg["task"]), str(msg["model_path"]))
        inboxes[msg["site"]].put(offer)
    elif kind == "cancel":
        inboxes[msg["site"]].cancel(str(msg["task_id"]))
    elif kind == "ack":
        link.acks[msg["site"]].put(msg)
    elif kind == "stop":
        for inbox in inboxes.values():
            inbox.close()
        return True
    return False


def run_hosted_sites(
    cfg: dict[str, Any], sites: list[str], inboxes: dict[str, SiteInbox], link: HostLink
) -> None:
    """Run the job's script for each of ``sites`` (one at a time) until every one has ended."""
    script = SiteScript.load(Path(cfg["app_dir"]), ClientAppConfig.model_validate(cfg["client"]))
    variables = dict(cfg["variables"])
    if len(sites) == 1:  # a host of its own: the site's name can be in its environment
        variables["COHORT_SITE_NAME"] = sites[0]
    slots = threading.Semaphore(1)
    with script_environment(script, variables, int(cfg["seed"]), Path(cfg["job_root"]), 1):
        previous = threading.stack_size(STACK_BYTES)
        threads = [
            threading.Thread(
                target=run_site,
                args=(site, cfg["job_id"], script, inboxes[site], slots, link,
                      Path(cfg["logs_dir"]) / f"{site}.log"),
                name=f"cohort-site-{site}",
                daemon=True,
            )
            for site in sites
        ]  # fmt: skip
        threading.stack_size(previous)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


# -- the simulator's side ---------------------------------------------------------------------
def spread(sites: list[str], hosts: int) -> list[list[str]]:
    """Deal the sites out to at most ``hosts`` hosts, round robin (none gets zero sites)."""
    return [sites[i::hosts] for i in range(min(hosts, len(sites)))]


def task_message(site: str, offer: TaskOffer) -> dict[str, Any]:
    """The message that queues a task for a hosted site."""
    task = offer.task.model_dump(mode="json")
    return {"type": "task", "site": site, "task": task, "model_path": offer.model_path}


def cancel_message(site: str, task_id: str) -> dict[str, Any]:
    """The message that withdraws a task a hosted site has not started."""
    return {"type": "cancel", "site": site, "task_id": task_id}


def handle_host_message(
    link: SiteLink, msg: dict[str, Any], payload: bytes, reported: set[str]
) -> dict[str, Any] | None:
    """Pass one message from a host to the simulated server; return the answer to send back
    (for a result), else None. Sites whose exit was reported are added to ``reported``."""
    kind, site = msg["type"], msg.get("site", "")
    if kind == "slot":
        link.slot_wait(site, bool(msg["waiting"]))
    elif kind == "result":
        reply: dict[str, Any] = {"type": "ack", "site": site}
        try:
            link.submit_result(site, TaskHeader.model_validate(msg["task"]), payload)
        except CohortError as exc:
            reply["error"] = {"code": str(exc.code), "message": exc.message, "hint": exc.hint}
        return reply
    elif kind == "metrics":
        link.log_metrics(site, list(msg["records"]))
    elif kind == "exit":
        reported.add(site)
        link.site_exited(site, int(msg["code"]), str(msg["error"]), str(msg["tail"]))
    return None


def report_lost_sites(
    link: SiteLink, sites: list[str], reported: set[str], code: int, why: str
) -> None:
    """A host that died took its sites with it: each fails as a crashed script would."""
    for site in sites:
        if site not in reported:
            link.site_exited(site, code, why, "")


# -- the simulator's side, whatever the transport ---------------------------------------------
class BackendArgs(TypedDict):
    """What the simulator gives a hosted back end."""

    job_id: str
    sites: list[str]
    app_dir: Path
    client: ClientAppConfig
    job_root: Path
    link: SiteLink
    logs_dir: Path
    workers: int
    variables: dict[str, str]
    seed: int


class Host(Protocol):
    """A back end's handle on one host (a worker process, a Ray actor)."""

    sites: list[str]
    peak_rss_mb: float


H = TypeVar("H", bound=Host)


class HostedBackend(abc.ABC, Generic[H]):
    """What a back end that hosts sites away from the simulator (worker processes, Ray
    actors) does the same way: split the sites into ``workers`` groups, build the hosts'
    common config, route tasks, cancels and the stop to the host of each site, and sum the
    hosts' peak memory. A subclass starts the hosts, reads their messages and moves
    messages with :meth:`post`; each host object has ``sites`` and ``peak_rss_mb``."""

    def __init__(self, **args: Unpack[BackendArgs]) -> None:
        self.link = args["link"]
        self.logs_dir = args["logs_dir"]
        self.groups = spread(args["sites"], args["workers"])
        self.base = host_config(
            job_id=args["job_id"],
            app_dir=args["app_dir"],
            client=args["client"],
            job_root=args["job_root"],
            logs_dir=args["logs_dir"],
            variables=args["variables"],
            seed=args["seed"],
        )
        self.hosts: list[H] = []
        self.by_site: dict[str, H] = {}
        self.reported: set[str] = set()

    @abc.abstractmethod
    def post(self, host: H, message: dict[str, Any]) -> None:
        """Send ``message`` to ``host`` (one of :attr:`hosts`)."""

    def deliver(self, site: str, offer: TaskOffer) -> None:
        """Send a task to the host of the site."""
        self.post(self.by_site[site], task_message(site, offer))

    def cancel(self, site: str, task_id: str) -> None:
        """Withdraw a task the site has not started."""
        self.post(self.by_site[site], cancel_message(site, task_id))

    def stop(self) -> None:
        """The job is over: every host lets its sites end."""
        for host in self.hosts:
            self.post(host, {"type": "stop"})

    @property
    def workers_peak_rss_mb(self) -> float:
        """Sum of the hosts' peak resident memory (an upper bound of their joint peak)."""
        return sum(h.peak_rss_mb for h in self.hosts)
