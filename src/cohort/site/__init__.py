"""The site agent: dials out to the server, heartbeats, and runs each job's script."""

from cohort.site.agent import SiteAgent

__all__ = ["SiteAgent"]
