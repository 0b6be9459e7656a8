"""One runner per platform: run a workload (a :class:`RunSpec`) and say what it cost."""
