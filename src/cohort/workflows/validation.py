"""Model-update validation: does an update fit the global model it was trained from, and is it
sane enough to aggregate?

The checks, in order (a failed one stops the later ones, which would be meaningless):

* ``format``: the file is safetensors with a well-formed header;
* ``shape_match``: the same tensor names as the global model, each with its dtype and shape;
* ``finite_values``: no NaN or inf in a floating-point tensor;
* ``norm_bound``: the L2 norm, over all tensors, of the update's change to the global model
  (update minus global for a FULL update, the update itself for a DIFF) is at most
  ``max_norm``. The change, not the weights: a poisoned update scaled x1000 moves the model
  far, while a healthy model's weights may legitimately be large.

Tensors are read a chunk at a time (256 Ki elements of the update's, and of the global
model's for the norm, into reused buffers), so a check costs a constant memory whatever the
model's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cohort.errors import CohortError, ErrorCode
from cohort.schemas.policy import UpdateValidation
from cohort.wire.payload import HEADER_KEY
from cohort.wire.tensors import FileTensors, read_file_header

__all__ = [
    "REJECTED",
    "UpdateCheck",
    "check_update",
    "describe_mismatch",
    "rejection_record",
    "tensor_shapes",
]

_FLOATS = {"F16", "BF16", "F32", "F64"}


@dataclass
class UpdateCheck:
    """Each check's verdict, and a sentence per failed one."""

    checks: dict[str, bool] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    norm: float | None = None

    @property
    def ok(self) -> bool:
        """Whether every check that ran passed."""
        return all(self.checks.values())

    @property
    def reason(self) -> str:
        """The failed checks in one line (empty when the update passed)."""
        return "; ".join(self.errors)


def tensor_shapes(header: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Name -> (dtype, shape) of a parsed safetensors header."""
    return {k: (v["dtype"], tuple(v["shape"])) for k, v in header.items() if k != "__metadata__"}


def describe_mismatch(expected: dict[str, Any], got: dict[str, Any]) -> str:
    """Which names are missing, unexpected, or of another dtype or shape."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    return (
        "update does not match the global model: "
        f"missing {missing}, unexpected {extra}, wrong dtype or shape {wrong}"
    )


def _is_diff(header: dict[str, Any]) -> bool:
    # The cohort header is validated where it is trusted (wire.payload); here it only says
    # whether the tensors are a difference, and a header that cannot say means FULL.
    raw = (header.get("__metadata__") or {}).get(HEADER_KEY)
    if not isinstance(raw, str):
        return False
    try:
        return bool(json.loads(raw).get("params_type") == "DIFF")
    except (ValueError, AttributeError, RecursionError):
        return False


def check_update(update: Path, reference: Path, rule: UpdateValidation) -> UpdateCheck:
    """Check the update file at ``update`` against the global model file at ``reference``."""
    result = UpdateCheck()
    try:
        header = read_file_header(update)
    except CohortError as exc:
        result.checks["format"] = False
        result.errors.append(f"not a safetensors file: {exc.message}")
        return result
    result.checks["format"] = True
    expected = tensor_shapes(read_file_header(reference))
    got = tensor_shapes(header)
    result.checks["shape_match"] = got == expected
    if got != expected:
        result.errors.append(describe_mismatch(expected, got))
        return result
    if rule.check_finite or rule.max_norm is not None:
        _check_values(update, reference, _is_diff(header), expected, rule, result)
    return result


def _check_values(
    update: Path,
    reference: Path,
    diff: bool,
    shapes: dict[str, tuple[str, tuple[int, ...]]],
    rule: UpdateValidation,
    result: UpdateCheck,
) -> None:
    bad: list[str] = []
    squares: dict[str, float] = {}
    norm = rule.max_norm is not None
    try:
        # Chunks read into reused buffers: the check holds nothing the size of a tensor.
        up = FileTensors(update).chunks()
        # The reference has the update's layout (shape_match passed): chunks pair up.
        ref = FileTensors(reference).chunks() if norm and not diff else None
        for name, chunk in up:
            ref_chunk = next(ref)[1] if ref is not None else None
            if name in bad:
                continue
            if shapes[name][0] in _FLOATS and not np.isfinite(chunk).all():
                bad.append(name)
                continue
            if norm:
                change = chunk.astype(np.float64)
                if ref_chunk is not None:
                    change -= ref_chunk
                squares[name] = squares.get(name, 0.0) + float(np.dot(change, change))
    except CohortError as exc:  # a header that lies about its data, or a BF16 tensor
        result.checks["format"] = False
        result.errors.append(f"not a safetensors file: {exc.message}")
        return
    bad.sort()
    if rule.check_finite or bad:
        result.checks["finite_values"] = not bad
        if bad:
            result.errors.append(f"non-finite values (NaN or inf) in {bad}")
            return
    if rule.max_norm is not None:
        # Summed in name order, as before, whatever order the file holds the tensors in.
        result.norm = sum(squares[name] for name in sorted(squares)) ** 0.5
        result.checks["norm_bound"] = result.norm <= rule.max_norm
        if result.norm > rule.max_norm:
            result.errors.append(
                f"L2 norm of the change to the global model {result.norm:.6g} "
                f"exceeds max_norm {rule.max_norm:.6g}"
            )


#: ``kind`` of a job's site error that records a refused update (``site_errors`` of the job).
REJECTED = "rejected"


def rejection_record(
    site: str, round: int, task_id: str, reason: str, now: float
) -> dict[str, Any]:
    """The site error a refused update leaves in the job (server store or simulator result)."""
    return {
        "site": site,
        "round": round,
        "task_id": task_id,
        "code": ErrorCode.MODEL_VALIDATION_FAILED.value,
        "error": f"round {round}: update rejected: {reason}",
        "reason": reason,
        "traceback_tail": "",
        "time": now,
        "kind": REJECTED,
    }
