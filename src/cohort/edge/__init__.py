"""Python client of Cohort's edge API (seed 004): :class:`Scaleout`."""

from cohort.edge.client import Scaleout

__all__ = ["Scaleout"]
