"""Strict JSON for documents from outside: what Python's json accepts but a store cannot keep."""

from __future__ import annotations

import json

import pytest

from cohort.strictjson import MAX_JSON_DEPTH, loads_strict


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"x": NaN}', "NaN"),
        (b'{"x": -Infinity}', "Infinity"),
        (b'{"x": 1e999}', "out of range"),
        (b'{"x": "a\\u0000b"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'{"x": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b"\xef\xbb\xbf{}", "BOM"),
        ('{"x": "é"}'.encode("latin-1"), "utf-8"),
        ('{"x": 1}'.encode("utf-16"), "utf-8"),
        (b'{"x": ' + b"9" * 5000 + b"}", "digits"),
        (nested(MAX_JSON_DEPTH + 1), "deeper"),
        (nested(100_000), "deeper"),
        (b'{"x": [1, 2', "Expecting"),
    ],
)
def test_refused(raw: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        loads_strict(raw)


def test_accepted_documents_are_plain_json() -> None:
    doc = {"name": "café ☃", "n": [1, 2.5, -3e10, None, True], "deep": json.loads(nested(10))}
    assert loads_strict(json.dumps(doc, ensure_ascii=False).encode()) == doc
    assert loads_strict(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    assert loads_strict(b'{"x": "\\ud83d\\ude00"}') == {"x": "\U0001f600"}  # a surrogate pair
