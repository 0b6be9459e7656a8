"""The simulator: a job with N virtual sites in one machine, same workflow, same client script."""

from cohort.simulate.result import SimulationResult
from cohort.simulate.simulator import simulate

__all__ = ["SimulationResult", "simulate"]
