"""Parsing JSON documents that came from outside (job folders): strictly, so that whatever is
accepted can be stored, served and read back on every database.

Python's ``json`` module accepts more than JSON: ``NaN`` and ``Infinity``, numbers that
overflow to infinity (``1e999``), lone UTF-16 surrogates (``"\\ud800"``) and NUL characters.
Each of these, once accepted into a job's meta, breaks a later step instead of the submit:
PostgreSQL's JSONB refuses NUL and NaN, a lone surrogate cannot be encoded as UTF-8 for a
reply, and a document nested a few hundred levels deep exhausts the recursion of every
serialiser that walks it (the store's, FastAPI's). So the whole document is checked here,
at the edge, and the first defect raises :class:`ValueError` with a message that names it.
"""

from __future__ import annotations

import json
import math

__all__ = ["MAX_JSON_DEPTH", "loads_strict"]

#: Deepest nesting of arrays and objects a document may have; configurations need a few.
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("strings may not hold NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a \ud800-style escape
        raise ValueError("strings may not hold lone UTF-16 surrogates") from exc


def _check_tree(value: object, max_depth: int) -> None:
    # Iterative, so that checking a deep document cannot itself run out of stack.
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise ValueError(f"nests deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def loads_strict(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Decode UTF-8 ``raw`` as strict JSON; ValueError names the first defect.

    Refused: other encodings (a byte-order mark included), ``NaN``/``Infinity`` and numbers
    that overflow, integers of more than 4300 digits, NUL characters and lone surrogates in
    strings or keys, and nesting deeper than ``max_depth``.
    """
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:  # deeper than the parser's own stack
        raise ValueError(f"nests deeper than {max_depth} levels") from exc
    _check_tree(value, max_depth)
    return value
