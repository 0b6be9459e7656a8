"""Names a module re-exports but loads on first use (PEP 562), to keep imports cheap.

A site's script, the server's job process and the site agent each import a few of Cohort's
packages; loading what a package merely re-exports (SQLAlchemy behind ``cohort.store``,
provisioning behind ``cohort.provision``, uvicorn behind ``cohort.tls``) cost each of those
processes up to a second of CPU at start.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(namespace: dict[str, Any], homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that loads ``name`` from the module ``homes[name]`` on first
    use and keeps it in ``namespace`` (the module's ``globals()``), so it is loaded once.

    Use as ``__getattr__ = lazy_names(globals(), {"Name": "package.module"})``, with the same
    names imported under ``if TYPE_CHECKING:`` for type checkers.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
