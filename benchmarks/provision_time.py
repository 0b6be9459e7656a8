"""How long `cohort provision` takes for a project of N sites and M users (first run: new CA).

Prints one JSON line per repetition: sites, users, seconds for the first run (creating the CA)
and for a second run (reusing it).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from cohort.provision.project import parse_project
from cohort.provision.provisioner import provision


def main() -> None:
    """Parse arguments, provision twice per repetition, print the timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    orgs = [f"org-{i}" for i in range(max(1, args.sites // 10))]
    spec = parse_project(
        {
            "name": "bench",
            "server": {"host": "fl.example.org", "port": 8443},
            "orgs": [{"name": o} for o in orgs],
            "sites": [{"name": f"site-{i}", "org": orgs[i % len(orgs)]} for i in range(args.sites)],
            "users": [
                {"name": f"user-{i}@x", "org": orgs[i % len(orgs)], "role": "lead"}
                for i in range(args.users)
            ],
        }
    )
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            provision(spec, Path(tmp))
            first = time.perf_counter() - began
            began = time.perf_counter()
            provision(spec, Path(tmp))
            second = time.perf_counter() - began
        print(json.dumps({"sites": args.sites, "users": args.users, "first_s": round(first, 3),
                          "second_s": round(second, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
