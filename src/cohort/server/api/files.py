"""Streaming stored files (models, job folders, packages) out of the server.

Starlette's ``FileResponse`` reads and sends 64 KiB at a time, and each read is a hop to a
worker thread and each send a trip through the HTTP and TLS layers in Python: on a model of
hundreds of megabytes that per-piece cost, not the bytes, was most of the API process's CPU
time on downloads. :class:`BulkFileResponse` is the same response with 1 MiB pieces (memory
per download stays about 1 MiB).
"""

from __future__ import annotations

from fastapi.responses import FileResponse

__all__ = ["BULK_CHUNK_BYTES", "BulkFileResponse"]

#: Bytes read from the file and handed to the transport at a time.
BULK_CHUNK_BYTES = 1 << 20


class BulkFileResponse(FileResponse):
    """A ``FileResponse`` (Range requests, ETag, HEAD) that streams 1 MiB at a time."""

    chunk_size = BULK_CHUNK_BYTES
