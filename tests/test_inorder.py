"""Results reach a workflow in task order, whatever order they arrive in."""

from __future__ import annotations

from cohort.schemas.records import UpdateRecord
from cohort.workflows.base import RoundOutcome
from cohort.workflows.inorder import InOrder


def _update(task_id: str) -> UpdateRecord:
    return UpdateRecord(
        job_id="j",
        task_id=task_id,
        site=f"site-{task_id}",
        round=1,
        path=f"updates/{task_id}",
        sha256="0" * 64,
        num_samples=1,
        received=0.0,
    )


def test_results_are_released_in_task_order() -> None:
    seen: list[str] = []
    outcome = RoundOutcome()
    order = InOrder(["1", "2", "3", "4"], lambda u: seen.append(u.task_id), outcome)

    order.add([_update("3")], [])  # 1 and 2 still open: hold 3
    assert seen == [] and order.received == 1
    order.add([_update("1"), _update("3")], [])  # a repeated result counts once
    assert seen == ["1"] and order.received == 2
    order.add([], ["2"])  # task 2 failed: 3 may go
    assert seen == ["1", "3"]
    order.add([_update("x")], [])  # not one of these tasks
    assert order.received == 2
    order.flush()  # the set closed with task 4 open
    assert seen == ["1", "3"]
    assert [u.task_id for u in outcome.updates] == ["1", "3"]


def test_flush_releases_held_results_in_order() -> None:
    seen: list[str] = []
    order = InOrder(["a", "b", "c"], lambda u: seen.append(u.task_id), RoundOutcome())
    order.add([_update("c"), _update("b")], [])  # "a" never answers
    assert seen == []
    order.flush()
    assert seen == ["b", "c"]
