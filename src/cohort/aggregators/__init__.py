"""Aggregators: how a round's updates become the next global model."""

from cohort.aggregators.weighted import WeightedMean

__all__ = ["WeightedMean"]
