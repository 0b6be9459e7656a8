"""Unit tests of model-update validation (``cohort.workflows.validation``) and of the one place
every workflow's results pass it (``WorkflowContext.screen`` through ``InOrder``)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cohort.schemas.policy import JobPolicies, UpdateValidation
from cohort.schemas.records import UpdateRecord
from cohort.wire.payload import PayloadHeader, encode_payload
from cohort.wire.tensors import encode_tensors
from cohort.workflows.base import RoundOutcome
from cohort.workflows.inorder import InOrder
from cohort.workflows.validation import REJECTED, check_update, rejection_record

GLOBAL = {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)}


def _write(path: Path, params: dict[str, np.ndarray], params_type: str = "FULL") -> Path:
    header = PayloadHeader(kind="update", params_type=params_type)  # type: ignore[arg-type]
    path.write_bytes(encode_payload(params, header))
    return path


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return _write(tmp_path / "global.safetensors", GLOBAL)


def _check(tmp_path: Path, reference: Path, params: dict[str, np.ndarray], **rule: object):  # type: ignore[no-untyped-def]
    update = _write(tmp_path / "update.safetensors", params, str(rule.pop("params_type", "FULL")))
    return check_update(update, reference, UpdateValidation.model_validate(rule))


def test_a_healthy_update_passes_every_check(tmp_path: Path, reference: Path) -> None:
    params = {k: v + 0.1 for k, v in GLOBAL.items()}
    verdict = _check(tmp_path, reference, params, max_norm=1.0)
    assert verdict.ok and verdict.reason == ""
    assert verdict.checks == {
        "format": True, "shape_match": True, "finite_values": True, "norm_bound": True,
    }  # fmt: skip
    assert verdict.norm == pytest.approx(0.1 * np.sqrt(8), rel=1e-5)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"w": GLOBAL["w"]}, "missing ['b']"),
        ({**GLOBAL, "extra": np.zeros(1, np.float32)}, "unexpected ['extra']"),
        ({**GLOBAL, "w": np.ones((2, 3), np.float32)}, "wrong dtype or shape ['w']"),
        ({**GLOBAL, "b": np.zeros(2, np.float64)}, "wrong dtype or shape ['b']"),
        ({**GLOBAL, "b": np.zeros(2, np.int32)}, "wrong dtype or shape ['b']"),
    ],
    ids=["missing-name", "extra-name", "shape", "dtype-f64", "dtype-int"],
)
def test_names_shapes_and_dtypes_must_match_the_global_model(
    tmp_path: Path, reference: Path, params: dict[str, np.ndarray], named: str
) -> None:
    verdict = _check(tmp_path, reference, params)
    assert not verdict.ok and verdict.checks["shape_match"] is False
    assert named in verdict.reason
    assert "finite_values" not in verdict.checks  # meaningless on a mismatched update


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_are_refused(tmp_path: Path, reference: Path, bad: float) -> None:
    w = GLOBAL["w"].copy()
    w[1, 0] = bad
    verdict = _check(tmp_path, reference, {**GLOBAL, "w": w}, max_norm=1e9)
    assert not verdict.ok and verdict.checks["finite_values"] is False
    assert "non-finite values (NaN or inf) in ['w']" in verdict.reason
    assert "norm_bound" not in verdict.checks


def test_check_finite_off_lets_nan_through_when_no_norm_is_bounded(
    tmp_path: Path, reference: Path
) -> None:
    verdict = _check(tmp_path, reference, {**GLOBAL, "b": np.full(2, np.nan, np.float32)},
                     check_finite=False)  # fmt: skip
    assert verdict.ok


def test_the_norm_bound_measures_the_change_to_the_global_model(
    tmp_path: Path, reference: Path
) -> None:
    # Large weights that barely moved pass; the same model scaled x1000 does not.
    assert _check(tmp_path, reference, {k: v + 0.01 for k, v in GLOBAL.items()}, max_norm=0.5).ok
    scaled = _check(tmp_path, reference, {k: v * 1000 for k, v in GLOBAL.items()}, max_norm=0.5)
    assert not scaled.ok and scaled.checks["norm_bound"] is False
    assert scaled.norm == pytest.approx(999 * np.sqrt(6), rel=1e-5)
    assert "exceeds max_norm 0.5" in scaled.reason


def test_a_diff_update_is_its_own_change(tmp_path: Path, reference: Path) -> None:
    small = {k: np.full_like(v, 0.1) for k, v in GLOBAL.items()}
    verdict = _check(tmp_path, reference, small, max_norm=1.0, params_type="DIFF")
    assert verdict.ok and verdict.norm == pytest.approx(0.1 * np.sqrt(8), rel=1e-5)
    # As FULL, the same tensors are far from the global model (w was 1.0).
    assert not _check(tmp_path, reference, small, max_norm=1.0).ok


def test_malformed_files_fail_the_format_check(tmp_path: Path, reference: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not safetensors at all")
    verdict = check_update(junk, reference, UpdateValidation())
    assert verdict.checks == {"format": False} and "not a safetensors file" in verdict.reason
    # A header that promises more data than the file holds.
    lying = tmp_path / "lying"
    header = b'{"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}'
    lying.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    assert check_update(lying, reference, UpdateValidation()).checks == {"format": False}


def test_raw_safetensors_without_a_cohort_header_counts_as_full(
    tmp_path: Path, reference: Path
) -> None:
    raw = tmp_path / "raw"
    raw.write_bytes(encode_tensors({k: v * 3 for k, v in GLOBAL.items()}))
    verdict = check_update(raw, reference, UpdateValidation(max_norm=1.0))
    assert not verdict.ok and verdict.norm == pytest.approx(2 * np.sqrt(6), rel=1e-5)


def test_policies_are_validated() -> None:
    with pytest.raises(ValueError, match="max_norm"):
        UpdateValidation.model_validate({"max_norm": -1})
    with pytest.raises(ValueError, match="trust_threshold"):
        JobPolicies.model_validate({"trust_threshold": 1.5})
    with pytest.raises(ValueError, match="Extra inputs"):
        JobPolicies.model_validate({"update_validation": {"max_nrom": 3}})


def _record(task: str, site: str) -> UpdateRecord:
    return UpdateRecord(
        task_id=task, job_id="j", site=site, round=1, path=f"u/{task}", sha256="0",
        num_samples=1, received=0.0,
    )  # fmt: skip


def test_inorder_keeps_refused_results_away_from_the_workflow() -> None:
    folded: list[str] = []
    outcome = RoundOutcome()
    screen = {"t2": "non-finite values (NaN or inf) in ['w']"}.get
    order = InOrder(["t1", "t2", "t3"], lambda u: folded.append(u.task_id), outcome,
                    lambda u: screen(u.task_id))  # fmt: skip
    order.add([_record("t2", "site-2"), _record("t3", "site-3")], [])
    assert order.received == 1 and folded == []  # t1 has not settled yet
    order.add([_record("t1", "site-1"), _record("t2", "site-2")], [])  # t2 again: once
    assert folded == ["t1", "t3"] and order.received == 2
    assert [u.task_id for u in outcome.updates] == ["t1", "t3"]
    assert [u.task_id for u in outcome.rejected] == ["t2"]
    assert outcome.failures == {
        "site-2": "update rejected: non-finite values (NaN or inf) in ['w']"
    }


def test_a_rejection_record_says_site_round_and_reason() -> None:
    record = rejection_record("site-2", 3, "t9", "bad", 12.0)
    assert record["kind"] == REJECTED and record["code"] == "MODEL_VALIDATION_FAILED"
    assert (record["site"], record["round"], record["task_id"]) == ("site-2", 3, "t9")
    assert record["error"] == "round 3: update rejected: bad"


def test_tensors_larger_than_a_chunk_are_checked_whole(tmp_path: Path) -> None:
    # The check reads 256 Ki elements at a time: a NaN in a later chunk is found, and the
    # norm sums every chunk of every tensor (the change is 0.5 on each of n + 3 elements).
    n = 3 * 2**18 + 11
    model = {"big": np.zeros(n, np.float32), "small": np.ones(3, np.float64)}
    reference = _write(tmp_path / "global.safetensors", model)
    moved = {"big": np.full(n, 0.5, np.float32), "small": np.full(3, 1.5)}
    verdict = _check(tmp_path, reference, moved, max_norm=1e9)
    assert verdict.ok and verdict.norm == pytest.approx(0.5 * np.sqrt(n + 3), rel=1e-9)
    moved["big"][n - 2] = np.nan
    verdict = _check(tmp_path, reference, moved, max_norm=1e9)
    assert not verdict.ok and verdict.checks["finite_values"] is False
    assert "big" in verdict.reason and "small" not in verdict.reason
