"""The REST API v1 (``/api/v1``, seed 003) and its live events (``/ws/events``)."""
