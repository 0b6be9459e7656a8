"""How tensors and their metadata travel: safetensors with a JSON header, never pickle."""

from cohort.wire.payload import PayloadHeader, decode_payload, encode_payload, read_payload_file
from cohort.wire.tensors import decode_tensors, encode_tensors, iter_file_tensors

__all__ = [
    "PayloadHeader",
    "decode_payload",
    "decode_tensors",
    "encode_payload",
    "encode_tensors",
    "iter_file_tensors",
    "read_payload_file",
]
