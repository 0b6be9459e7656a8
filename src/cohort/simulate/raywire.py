"""What may cross to and from the Ray back end's actors: Cohort's own wire data, nothing else.

Ray serialises a value with msgpack and falls back to pickle for any object msgpack does not
take as is (with ``strict_types``, that includes tuples and subclasses such as ``StrEnum`` or
``numpy.float64``). So the back end checks every argument and every return value against the
exact types below before the call: safetensors bytes (``cohort.wire``), ``str``, ``int``,
``float``, ``bool``, ``None``, and lists and string-keyed dicts of those. A value that passes
is msgpack data end to end and is never unpickled on the other side.
"""

from __future__ import annotations

from typing import Any

from cohort.errors import ErrorCode, InvalidRequest

__all__ = ["SCALARS", "check_wire"]

#: The exact scalar types that may cross (``type(x) is ...``, never a subclass).
SCALARS: tuple[type, ...] = (bytes, str, int, float, bool, type(None))

_MAX_DEPTH = 32


def check_wire(value: Any, where: str = "value") -> None:
    """Raise ``InvalidRequest`` (``PAYLOAD_INVALID``) unless ``value`` is wire data only."""
    _check(value, where, 0)


def _check(value: Any, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _refused(where, f"nested deeper than {_MAX_DEPTH} levels")
    kind = type(value)
    if kind in SCALARS:
        return
    if kind is list:
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]", depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _refused(f"{where} key {key!r}", f"a {type(key).__name__}, not a str")
            _check(item, f"{where}[{key!r}]", depth + 1)
        return
    raise _refused(where, f"a {kind.__module__}.{kind.__qualname__}")


def _refused(where: str, what: str) -> InvalidRequest:
    return InvalidRequest(
        f"{where} is {what}: only bytes, str, int, float, bool, None and lists and "
        "str-keyed dicts of those cross to Ray actors (nothing that Ray would pickle)",
        ErrorCode.PAYLOAD_INVALID,
    )
