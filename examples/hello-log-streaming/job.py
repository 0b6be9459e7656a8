"""hello-numpy with job log streaming: each site streams its job log to the server, which
stores it with the job, so ``cohort job logs JOB --site all`` shows every site's output.

    python examples/hello-log-streaming/job.py --export --export-dir /tmp/cohort/hello-logs
    cohort job submit -j /tmp/cohort/hello-logs
    cohort job logs JOB --site all --tail 200

``--log-file-name log.json`` streams structured records (one JSON object a line) instead of
plain text. A POC server streams every job's log.txt by default; these two components make
the job stream on any server, POC or production.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cohort.recipes import FedAvgRecipe, JobLogReceiver, JobLogStreamer

HERE = Path(__file__).resolve().parent
CUSTOM = HERE.parent / "hello-numpy" / "job" / "app" / "custom"


def make_recipe(
    num_rounds: int = 3, min_clients: int = 2, log_file_name: str = "log.txt"
) -> FedAvgRecipe:
    """The hello-numpy job, with a log streamer on every site and a receiver on the server."""
    recipe = FedAvgRecipe(
        name="hello-log-streaming",
        train_script=CUSTOM / "train.py",
        extra_files=[CUSTOM / "hello_numpy_lib.py"],
        num_rounds=num_rounds,
        min_clients=min_clients,
        task_timeout=120,
    )
    # Tails each site's job log and streams it to the server.
    recipe.job.to_clients(JobLogStreamer.model_validate({"log_file_name": log_file_name}))
    # Receives the streamed chunks on the server and stores them with the job.
    recipe.job.to_server(JobLogReceiver())
    return recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", action="store_true", help="write the job folder and exit")
    parser.add_argument("--export-dir", type=Path, default=Path("/tmp/cohort/jobs/hello-logs"))
    parser.add_argument("--num-rounds", type=int, default=3)
    parser.add_argument("--min-clients", type=int, default=2)
    parser.add_argument("--log-file-name", choices=["log.txt", "log.json"], default="log.txt")
    args = parser.parse_args(argv)
    recipe = make_recipe(args.num_rounds, args.min_clients, args.log_file_name)
    if not args.export:
        parser.print_help(sys.stderr)
        print(
            "\nrun with --export --export-dir DIR, then: cohort job submit -j DIR",
            file=sys.stderr,
        )
        return 2
    folder = recipe.export(args.export_dir)
    print(f"exported the hello-log-streaming job to {folder}", file=sys.stderr)
    print(f"submit it with: cohort job submit -j {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
