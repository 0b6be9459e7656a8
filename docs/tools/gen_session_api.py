"""Write docs/session-api-reference.md from the docstrings of ``cohort.admin``.

python docs/tools/gen_session_api.py          # rewrite the page
python docs/tools/gen_session_api.py --check  # exit 1 if the page is stale (tests run it)
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import cohort.admin
from cohort.admin import Session, SessionSpec, new_secure_session, spec_types

PAGE = Path(__file__).resolve().parents[1] / "session-api-reference.md"


def _doc(obj: object) -> str:
    return inspect.cleandoc(inspect.getdoc(obj) or "(undocumented)")


def _signature(name: str, obj: object) -> str:
    try:
        sig = inspect.signature(obj, eval_str=True)  # type: ignore[arg-type]
    except NameError:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    text = str(sig)
    for prefix in ("typing.", "cohort.admin.spec_types.", "cohort.admin.session."):
        text = text.replace(prefix, "")
    return f"{name}{text.replace('(self, ', '(').replace('(self)', '()')}"


def render() -> str:
    """The reference page as Markdown."""
    out = [
        "# Session API reference",
        "",
        "Generated from the docstrings by `docs/tools/gen_session_api.py`; do not edit. The",
        "guide is [session-api.md](session-api.md).",
        "",
        "## `new_secure_session`",
        "",
        "```python",
        _signature("new_secure_session", new_secure_session),
        "```",
        "",
        _doc(new_secure_session),
        "",
        "## `Session` methods",
        "",
        _doc(Session),
        "",
    ]
    names = sorted(set(SessionSpec.__abstractmethods__) | {"monitor_job"})
    for name in names:
        out += [
            f"### `{name}`",
            "",
            "```python",
            _signature(name, getattr(Session, name)),
            "```",
            "",
            _doc(getattr(SessionSpec, name)),
            "",
        ]
    out += ["## Module-level names", ""]
    for name in sorted(spec_types.__all__):
        obj = getattr(spec_types, name)
        kind = (
            "exception"
            if isinstance(obj, type) and issubclass(obj, BaseException)
            else ("class" if isinstance(obj, type) else "function")
        )
        out += [f"### `{name}` ({kind})", "", _doc(obj), ""]
    out += [f"`cohort.admin.__all__` has {len(cohort.admin.__all__)} names.", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Rewrite the page, or with --check report whether it is current."""
    text = render()
    if "--check" in argv:
        current = PAGE.read_text() if PAGE.is_file() else ""
        if current != text:
            print(f"{PAGE} is stale: run python docs/tools/gen_session_api.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
