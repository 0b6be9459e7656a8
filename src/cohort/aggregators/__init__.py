"""Aggregators: how a round's updates become the next global model."""

from cohort.aggregators.robust import RobustAggregator
from cohort.aggregators.server_opt import ServerOptimizer
from cohort.aggregators.tiled import TiledMean
from cohort.aggregators.weighted import WeightedMean

__all__ = ["RobustAggregator", "ServerOptimizer", "TiledMean", "WeightedMean"]
