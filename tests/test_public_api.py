"""Each public package's ``__all__`` is exactly what it defines and re-exports, documented.

Like httpx's ``test_all_imports_are_exported``: a name a package makes public must be in
``__all__``, and a name in ``__all__`` must exist, so ``from cohort.x import *`` and the docs
agree with the code.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import types
from pathlib import Path

import pytest

PACKAGES = [
    "cohort.client",
    "cohort.wire",
    "cohort.schemas",
    "cohort.aggregators",
    "cohort.workflows",
    "cohort.store",
    "cohort.provision",
    "cohort.site",
    "cohort.admin",
    "cohort.rest",
]


def foreign_imports(module: types.ModuleType) -> set[str]:
    """Names the module's own source binds by importing from outside cohort (typing helpers,
    ``Path``, ``os``, ``from __future__ import annotations``): not part of its API."""
    source = Path(inspect.getsourcefile(module) or "").read_text()
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("cohort"):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and not (node.module or "").startswith("cohort")
        ):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def public_names(module: types.ModuleType) -> set[str]:
    foreign = foreign_imports(module)
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # submodules, `import os`
        and name not in foreign
    }


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    for exported_name in exported:  # each exists; loads the names a package loads lazily
        getattr(module, exported_name)
    assert set(exported) == public_names(module)


@pytest.mark.parametrize("name", PACKAGES)
def test_star_import_gives_all(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(importlib.import_module(name).__all__)


def _own_docstring(obj: object) -> str | None:
    doc = obj.__doc__
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        if dataclasses.is_dataclass(obj) and doc and doc.startswith(f"{obj.__name__}("):
            return None  # the signature dataclasses writes when there is no docstring
    return doc.strip() if doc else None


def documented_objects() -> list[tuple[str, str]]:
    """(package, name) of every exported class and function: the names that can carry a
    docstring. Constants (strings, numbers, tuples, typing aliases) cannot."""
    found = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.append((package, name))
    return found


def test_packages_have_docstrings() -> None:
    for package in PACKAGES:
        assert (importlib.import_module(package).__doc__ or "").strip(), package


@pytest.mark.parametrize(("package", "name"), documented_objects())
def test_every_exported_name_has_a_docstring(package: str, name: str) -> None:
    obj = getattr(importlib.import_module(package), name)
    assert _own_docstring(obj), f"{package}.{name} has no docstring"


def test_top_level_names_are_the_packages_own() -> None:
    """``cohort.X`` is the very object its package exports, and nothing else is curated."""
    import cohort

    names = [n for n in cohort.__all__ if n != "__version__"]
    assert len(cohort.__all__) == len(set(cohort.__all__))
    assert set(names) == set(cohort._HOMES)
    for name in names:
        home = importlib.import_module(cohort._HOMES[name])
        assert name in home.__all__, f"{name} is not public in {home.__name__}"
        assert getattr(cohort, name) is getattr(home, name)
        assert _own_docstring(getattr(cohort, name)), f"cohort.{name} has no docstring"
    assert set(dir(cohort)) >= set(cohort.__all__)
    assert isinstance(cohort.__version__, str) and cohort.__version__


def test_top_level_unknown_name_is_an_attribute_error() -> None:
    import cohort

    with pytest.raises(AttributeError, match="no_such_name"):
        cohort.no_such_name  # noqa: B018


def test_import_cohort_stays_light() -> None:
    """A training script's ``import cohort.client`` must not pull in the admin API or httpx
    through the curated names: they load on first use."""
    import subprocess
    import sys

    code = (
        "import sys, cohort; "
        "print(sorted(m for m in ('httpx', 'cohort.admin', 'cohort.rest', 'cohort.recipes',"
        " 'cohort.simulate', 'fastapi') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
