"""Site scripts that ship with Cohort, used by recipes built from a JSON config (REST v1).

Only names and paths here: the scripts import scikit-learn, which the server must not load.
"""

from pathlib import Path

__all__ = ["TABULAR_DATASETS", "TABULAR_SOFTMAX"]

#: The built-in softmax-regression site script.
TABULAR_SOFTMAX = Path(__file__).with_name("tabular_softmax.py")
#: scikit-learn's bundled data sets it can train on.
TABULAR_DATASETS = ("breast_cancer", "digits", "iris", "wine")
