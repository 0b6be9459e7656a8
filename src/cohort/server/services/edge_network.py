"""The network as the edge API shows it: clients (sites), the one combiner (the server, until
hierarchical aggregation exists), node attributes and the controller's state.

Attributes are key/value facts about a node (``charging=true``) added over the API; the newest
value of each key is current, every value stays in the trail. Sessions use them to choose
sites (``session_config.client_attributes``).
"""

from __future__ import annotations

from cohort.errors import InvalidRequest, NotFound
from cohort.schemas.edge import AddAttribute, Attribute, ControllerStatus, EdgeClient
from cohort.schemas.records import SiteRecord
from cohort.server.services.edge_records import RecordLog
from cohort.server.services.events import iso
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL
from cohort.store import JobFilter

__all__ = ["COMBINER", "EdgeNetworkService"]

#: The combiner id of the server.
COMBINER = "cohort-server"


class EdgeNetworkService:
    """Clients, combiners, attributes and the controller status."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.attribute_log = RecordLog(state, "attributes")

    # -- clients ----------------------------------------------------------------------------
    def _client(self, site: SiteRecord, now: float) -> EdgeClient:
        online = self.state.is_connected(site, now)
        return EdgeClient(
            client_id=site.name,
            name=site.name,
            status="online" if online else "offline",
            combiner=COMBINER,
            last_seen=iso(site.last_seen),
            first_seen=iso(site.first_seen),
        )

    def clients(self, status: str | None = None, combiner: str | None = None) -> list[EdgeClient]:
        """Every site, by name; ``status`` (online/offline) and ``combiner`` filter."""
        now = self.state.clock()
        found = [self._client(s, now) for s in self.state.store.list_sites()]
        return [c for c in found if status in (None, c.status) and combiner in (None, c.combiner)]

    def client(self, client_id: str) -> EdgeClient:
        """One site; NOT_FOUND for an unknown id."""
        for found in self.clients():
            if found.client_id == client_id:
                return found
        raise NotFound(f"client {client_id!r} not found", details={"client_id": client_id})

    def combiner(self) -> dict[str, object]:
        """The one combiner: the server."""
        kit_host = self.state.config.host or ""
        return {
            "combiner_id": COMBINER,
            "name": COMBINER,
            "address": kit_host,
            "status": "online",
            "connected_clients": len(self.state.connected_sites()),
        }

    def controller(self) -> ControllerStatus:
        """Instructing while a job runs, else idle."""
        running = [
            j
            for j in self.state.store.list_jobs(JobFilter(reverse=True, limit=50))
            if j.status not in JOB_TERMINAL
        ]
        return ControllerStatus(
            state="instructing" if running else "idle",
            session_id=running[0].job_id if running else None,
            connected_clients=len(self.state.connected_sites()),
        )

    # -- attributes -------------------------------------------------------------------------
    def add_attribute(self, req: AddAttribute) -> Attribute:
        """Record a value of a node's key."""
        sender = req.sender
        node = req.entity_id or (sender and (sender.client_id or sender.combiner_id))
        if not node:
            raise InvalidRequest(
                "the attribute names no node",
                hint="Give entity_id, or sender.client_id / sender.combiner_id.",
            )
        value = str(req.value).lower() if isinstance(req.value, bool) else str(req.value)
        record = Attribute(
            key=req.key, value=value, entity_id=node, committed_at=iso(self.state.clock())
        )
        self.attribute_log.append(record.model_dump())
        return record

    def trail(self, node: str) -> list[Attribute]:
        """Every value ever set on a node, oldest first."""
        return [
            Attribute.model_validate(r) for r in self.attribute_log.all() if r["entity_id"] == node
        ]

    def current(self, nodes: list[str]) -> dict[str, dict[str, str]]:
        """node -> key -> newest value, for each asked node (empty when it has none)."""
        found: dict[str, dict[str, str]] = {node: {} for node in nodes}
        for record in self.attribute_log.all():
            if record["entity_id"] in found:
                found[record["entity_id"]][record["key"]] = record["value"]
        return found

    def select_sites(self, wanted: dict[str, str] | None) -> list[str] | None:
        """Sites whose current attributes hold every ``wanted`` value (None: every site);
        INVALID_REQUEST when none does."""
        if not wanted:
            return None
        names = [s.name for s in self.state.store.list_sites()]
        current = self.current(names)
        chosen = [n for n in names if all(current[n].get(k) == str(v) for k, v in wanted.items())]
        if not chosen:
            raise InvalidRequest(
                "no client has the attributes the session asks for",
                hint="Add them with POST attributes/ or change client_attributes.",
                details={"client_attributes": wanted},
            )
        return chosen
