"""Python client of Cohort's REST API v1 (seed 003): :class:`FLClient`."""

from cohort.rest.client import FLClient

__all__ = ["FLClient"]
