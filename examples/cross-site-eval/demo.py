"""Cross-site evaluation in the simulator: the matrix of every model on every site's data.

    python examples/cross-site-eval/demo.py [--sites 4]

Runs the job (5 FedAvg rounds, then every site evaluates the global model and every site's
final-round model on its own validation data) and prints the matrix from the result's
``workspace/cross_site_eval.json``: one row per model, one column per evaluating site.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cohort.simulate import simulate

HERE = Path(__file__).resolve().parent


def accuracy_table(matrix: dict[str, Any]) -> Table:
    """Rows: the models (global first); columns: the sites that evaluated them."""
    table = Table("model \\ data of", *matrix["sites"], title="validation accuracy")
    for owner in matrix["models"]:
        cells = []
        for site in matrix["sites"]:
            metrics = matrix["matrix"][site][owner]
            cells.append("-" if metrics is None else f"{metrics['accuracy']:.3f}")
        table.add_row(owner, *cells)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=4)
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="cohort-cse-") as tmp:
        result = simulate(HERE / "job", args.sites, workspace=Path(tmp) / "ws", progress=False)
        if not result.ok:
            console.print(f"the job failed: {result.reason}")
            return 1
        matrix = json.loads((result.result_dir / "workspace" / "cross_site_eval.json").read_text())
    console.print(accuracy_table(matrix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
