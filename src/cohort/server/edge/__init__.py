"""The edge API (seed 004, the ``scaleout`` client's REST dialect) on its own listener."""
