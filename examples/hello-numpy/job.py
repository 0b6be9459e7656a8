"""hello-numpy as a recipe: ``python job.py --export --export-dir DIR`` writes the job folder.

Then submit it to a running federation (``cohort poc prepare && cohort poc start`` gives one):

    python examples/hello-numpy/job.py --export --export-dir /tmp/cohort/hello-numpy
    cohort job submit -j /tmp/cohort/hello-numpy

The exported folder is equivalent to ``examples/hello-numpy/job``: the same site script, its
helper module, and FedAvg for 5 rounds on at least 2 sites.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cohort.recipes import FedAvgRecipe

HERE = Path(__file__).resolve().parent
CUSTOM = HERE / "job" / "app" / "custom"


def make_recipe(num_rounds: int = 5, min_clients: int = 2) -> FedAvgRecipe:
    """The hello-numpy job."""
    return FedAvgRecipe(
        name="hello-numpy",
        train_script=CUSTOM / "train.py",
        extra_files=[CUSTOM / "hello_numpy_lib.py"],
        num_rounds=num_rounds,
        min_clients=min_clients,
        task_timeout=120,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", action="store_true", help="write the job folder and exit")
    parser.add_argument("--export-dir", type=Path, default=Path("/tmp/cohort/jobs/hello-numpy"))
    parser.add_argument("--num-rounds", type=int, default=5)
    parser.add_argument("--min-clients", type=int, default=2)
    args = parser.parse_args(argv)
    recipe = make_recipe(args.num_rounds, args.min_clients)
    if not args.export:
        parser.print_help(sys.stderr)
        print(
            "\nrun with --export --export-dir DIR, then: cohort job submit -j DIR",
            file=sys.stderr,
        )
        return 2
    folder = recipe.export(args.export_dir)
    print(f"exported the hello-numpy job to {folder}", file=sys.stderr)
    print(f"submit it with: cohort job submit -j {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
