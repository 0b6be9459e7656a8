"""A model payload: tensors plus a validated JSON header (round, metrics, meta, task).

The header rides in the safetensors ``__metadata__`` under the key ``cohort`` so one request or
one file carries both; it is validated by :class:`PayloadHeader` before anything trusts it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cohort.errors import ErrorCode, InvalidRequest
from cohort.schemas.fleet import TaskHeader
from cohort.wire.tensors import (
    TensorStream,
    decode_tensors,
    encode_tensors,
    iter_file_tensors,
    iter_tensor_bytes,
    read_file_header,
    write_tensor_file,
)

__all__ = [
    "HEADER_KEY",
    "PayloadHeader",
    "decode_payload",
    "encode_payload",
    "iter_payload",
    "read_payload_file",
    "write_hashed",
    "write_hashed_payload",
    "write_payload_file",
]

HEADER_KEY = "cohort"


class PayloadHeader(BaseModel):
    """What travels next to the tensors of a task, an update, or a stored global model."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["task", "update", "model"]
    params_type: Literal["FULL", "DIFF"] = "FULL"
    current_round: int | None = Field(default=None, ge=0)
    total_rounds: int | None = Field(default=None, ge=0)
    num_samples: int | None = Field(default=None, ge=0)
    metrics: dict[str, float] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    task: TaskHeader | None = None

    @field_validator("metrics")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        for key, number in value.items():
            if not np.isfinite(number):
                raise ValueError(f"metric {key!r} is not a finite number")
        return value


def encode_payload(params: Mapping[str, Any] | TensorStream, header: PayloadHeader) -> bytes:
    """Encode tensors and their header as one safetensors payload."""
    return encode_tensors(params, {HEADER_KEY: header.model_dump_json()})


def iter_payload(
    params: Mapping[str, Any] | TensorStream, header: PayloadHeader
) -> tuple[int, Iterator[bytes]]:
    """As :func:`encode_payload`, lazily: ``(size, pieces)``, never a whole second copy."""
    return iter_tensor_bytes(params, {HEADER_KEY: header.model_dump_json()})


def write_payload_file(path: Path, params: Mapping[str, Any], header: PayloadHeader) -> int:
    """Write a payload straight to a file (piece by piece); return its size."""
    return write_tensor_file(path, params, {HEADER_KEY: header.model_dump_json()})


def write_hashed(out: IO[bytes], pieces: Iterable[bytes]) -> str:
    """Write ``pieces`` to ``out``, hashing them on the way; return their SHA-256 (hex)."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
        out.write(piece)
    return digest.hexdigest()


def write_hashed_payload(path: Path, params: Mapping[str, Any], header: PayloadHeader) -> str:
    """Write a payload straight to a file (piece by piece, never a whole encoded copy in
    memory); return the SHA-256 of its bytes, hashed on the way."""
    with path.open("wb") as fh:
        return write_hashed(fh, iter_payload(params, header)[1])


def _parse_header(metadata: Mapping[str, str]) -> PayloadHeader:
    raw = metadata.get(HEADER_KEY)
    if raw is None:
        raise InvalidRequest("payload has no cohort header", code=ErrorCode.PAYLOAD_INVALID)
    try:
        return PayloadHeader.model_validate(json.loads(raw))
    except (json.JSONDecodeError, RecursionError, ValidationError) as exc:
        raise InvalidRequest(
            f"payload header is invalid: {exc}", code=ErrorCode.PAYLOAD_INVALID
        ) from exc


def decode_payload(data: bytes) -> tuple[dict[str, np.ndarray], PayloadHeader]:
    """Decode a payload made by :func:`encode_payload`; PAYLOAD_INVALID when malformed."""
    arrays, metadata = decode_tensors(data)
    return arrays, _parse_header(metadata)


def read_payload_file(path: Path) -> PayloadHeader:
    """Check a payload file and return its header, without loading its tensors."""
    header = read_file_header(path)
    return _parse_header(header.get("__metadata__") or {})


def load_payload_file(path: Path) -> tuple[dict[str, np.ndarray], PayloadHeader]:
    """Load a payload file whole (tensors and header)."""
    header = read_payload_file(path)
    return dict(iter_file_tensors(path)), header
