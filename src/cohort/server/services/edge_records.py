"""Small append-only record logs of the edge API (attributes, added statuses, commands), kept
as JSON lines in the artifact store like REST v1's client registrations: they are facts
written over the API, not job state, so they need no table of their own."""

from __future__ import annotations

import json
import threading
from typing import Any

from cohort.server.state import ServerState

__all__ = ["RecordLog"]

_LOCK = threading.Lock()


class RecordLog:
    """``edge/<name>.jsonl``: append a record, read them all in order."""

    def __init__(self, state: ServerState, name: str) -> None:
        self.state = state
        self.key = f"edge/{name}.jsonl"

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add one record (a whole line, so a reader never sees half of it)."""
        path = self.state.artifacts.path(self.key)
        with _LOCK:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, sort_keys=True) + "\n")
        return record

    def all(self) -> list[dict[str, Any]]:
        """Every record, oldest first."""
        path = self.state.artifacts.path(self.key)
        if not path.is_file():
            return []
        with _LOCK:
            lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
