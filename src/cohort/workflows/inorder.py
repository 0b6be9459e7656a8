"""Hand a set of tasks' results to a workflow in the order of the tasks, whatever order they
arrive in.

Aggregation in float arithmetic depends on the order of the sum. A server folds results as
sites send them, which differs from run to run; folding them in task order (the sites sorted)
makes a round's global model a function of the results alone: the same on every run, and the
same in the simulator as on a real federation (to the bit). A result waits only for the tasks
before it to settle (a result, or a failure, timeout or close); its file is already on disk,
so waiting costs no memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cohort.schemas.records import UpdateRecord
from cohort.workflows.base import RoundOutcome

__all__ = ["InOrder"]


class InOrder:
    """Releases results to ``on_result`` (and ``outcome.updates``) in the order of ``task_ids``."""

    def __init__(
        self,
        task_ids: list[str],
        on_result: Callable[[UpdateRecord], None],
        outcome: RoundOutcome,
        screen: Callable[[UpdateRecord], str | None] = lambda update: None,
    ) -> None:
        self.task_ids = list(task_ids)
        self.on_result = on_result
        self.outcome = outcome
        self.screen = screen
        self.results: dict[str, UpdateRecord] = {}
        self.settled: set[str] = set()
        self.screened: set[str] = set()  # results seen (each is screened once)
        self.cursor = 0  # next task to release

    @property
    def received(self) -> int:
        """Valid results received so far, released or not (what ``min_results`` counts)."""
        return len(self.results)

    def add(self, updates: Iterable[UpdateRecord], settled_ids: Iterable[str]) -> None:
        """Record new results and tasks that ended without one; release what is in order.

        A result ``screen`` refuses settles its task without a result: it never reaches
        ``on_result`` and does not count towards ``min_results``."""
        wanted = set(self.task_ids)
        for update in updates:
            if update.task_id in wanted and update.task_id not in self.screened:
                self.screened.add(update.task_id)
                self.settled.add(update.task_id)
                reason = self.screen(update)
                if reason is None:
                    self.results[update.task_id] = update
                else:
                    self.outcome.rejected.append(update)
                    self.outcome.failures[update.site] = f"update rejected: {reason}"
        self.settled.update(t for t in settled_ids if t in wanted)
        self._release(everything=False)

    def flush(self) -> None:
        """The set is over: release every result still held, in task order."""
        self._release(everything=True)

    def _release(self, *, everything: bool) -> None:
        while self.cursor < len(self.task_ids):
            task_id = self.task_ids[self.cursor]
            if not everything and task_id not in self.settled:
                return
            update = self.results.get(task_id)
            if update is not None:
                self.on_result(update)
                self.outcome.updates.append(update)
            self.cursor += 1
