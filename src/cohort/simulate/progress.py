"""The simulation's progress on stderr: round i/N, results in, the latest accuracy."""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["NoProgress", "RoundProgress", "headline_metric"]


def headline_metric(metrics: dict[str, float]) -> tuple[str, float] | None:
    """The metric to show: accuracy if reported, else one that looks like it, else the first."""
    if not metrics:
        return None
    if "accuracy" in metrics:
        return "accuracy", metrics["accuracy"]
    key = next((k for k in sorted(metrics) if "acc" in k.lower()), sorted(metrics)[0])
    return key, metrics[key]


class NoProgress:
    """Shows nothing."""

    def progress(self, current_round: int, total_rounds: int, reason: str) -> None:
        """Ignore."""

    def results(self, done: int, total: int) -> None:
        """Ignore."""

    def round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        """Ignore."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class RoundProgress(NoProgress):
    """One line on stderr: the workflow's step, rounds done, results in, latest metric."""

    def __init__(self, stream: TextIO) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[results]}"),
            TextColumn("{task.fields[metric]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            redirect_stdout=False,  # sites' output is routed to their logs already
            redirect_stderr=False,
        )
        self.task = self.bar.add_task("starting sites", total=None, results="", metric="")

    def progress(self, current_round: int, total_rounds: int, reason: str) -> None:
        """A new step of the workflow (its reason, e.g. "round 3 of 5: training")."""
        self.bar.update(
            self.task, description=reason[:40], total=total_rounds, completed=current_round - 1
        )

    def results(self, done: int, total: int) -> None:
        """Results of the current step so far."""
        self.bar.update(self.task, results=f"{done}/{total} results")

    def round_metrics(self, round: int, metrics: dict[str, float]) -> None:
        """A round's model was evaluated: its headline metric; rounds up to it are done."""
        shown = headline_metric(metrics)
        if shown is not None:
            done = max(round, int(self.bar.tasks[0].completed))
            self.bar.update(self.task, completed=done, metric=f"{shown[0]} {shown[1]:.4f}")

    def __enter__(self) -> RoundProgress:
        self.bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.bar.stop()
