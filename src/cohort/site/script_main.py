"""Runs a job's site script (``python -m cohort.site.script_main SCRIPT ARGS...``) as if it
were started directly, with a watcher that applies ``cohort job log-config`` requests.

The watcher reads the file named by ``COHORT_LOG_CONFIG_FILE`` (the site agent writes it from
its heartbeat replies) and applies each new setting to the script's root logger, so a script
that logs with :mod:`logging` changes level or format while it runs.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from cohort.logconfig import ENV_LOG_CONFIG_FILE, LogConfigWatcher

__all__ = ["main"]


def main(argv: list[str]) -> None:
    """Start the watcher, then run ``argv[0]`` as ``__main__`` with ``argv`` as its argv."""
    if not argv:
        raise SystemExit("usage: python -m cohort.site.script_main SCRIPT [ARGS...]")
    config_file = os.environ.get(ENV_LOG_CONFIG_FILE)
    if config_file:
        watcher = LogConfigWatcher(Path(config_file))
        watcher.check()  # a setting made before the script started applies from its first line
        watcher.start()
    script = Path(argv[0])
    sys.argv = list(argv)
    sys.path.insert(0, str(script.resolve().parent))  # as `python script.py` would
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
