"""``/ws/events``: the live events of running jobs, pushed over a WebSocket.

Each socket subscribes to the server's EventHub (fed by the services as they store results),
so nothing polls the store per socket. The key goes in ``Authorization: Bearer`` (or, for
browsers, ``?token=``); a socket without a valid key, or over the key's limit of open sockets,
is refused before it is accepted (HTTP 403 on the upgrade). ``?experiment_id=`` keeps one
experiment's events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from cohort.errors import CohortError
from cohort.server.rest.deps import bearer_key, rest_services

__all__ = ["router"]

router = APIRouter()
_open: Counter[str] = Counter()  # API key id -> open sockets (one API process)


@router.websocket("/ws/events")
async def events(websocket: WebSocket, experiment_id: str | None = None) -> None:
    """Stream ``training_progress``, ``client_update`` and ``round_completed`` as JSON."""
    svc = rest_services(websocket)
    try:
        token = svc.tokens.authenticate(bearer_key(websocket))
    except CohortError:
        await websocket.close(code=1008)
        return
    if _open[token.token_id] >= svc.state.config.rate_limits.websocket_connections:
        await websocket.close(code=1008)
        return
    _open[token.token_id] += 1
    queue = svc.state.events.subscribe()
    try:
        await websocket.accept()
        receiving = asyncio.create_task(_drain(websocket))
        while not receiving.done():
            getting = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getting, receiving}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                break
            event = getting.result()
            if experiment_id is None or event.get("experiment_id") == experiment_id:
                await websocket.send_json(event)
        receiving.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        svc.state.events.unsubscribe(queue)
        _open[token.token_id] -= 1


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
