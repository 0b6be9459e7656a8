"""Load an example's helper module (it lives in the job's custom/ folder, not on sys.path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load_example_module(example: str, module: str) -> ModuleType:
    """Import ``examples/<example>/job/app/custom/<module>.py`` under its own name."""
    path = EXAMPLES / example / "job" / "app" / "custom" / f"{module}.py"
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(loaded)
    return loaded


def load_example_demo(example: str) -> ModuleType:
    """Import ``examples/<example>/demo.py`` (not run: its ``main`` is behind ``__main__``)."""
    path = EXAMPLES / example / "demo.py"
    spec = importlib.util.spec_from_file_location(f"{example.replace('-', '_')}_demo", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded
