"""``ls``, ``cat``, ``head``, ``tail`` and ``grep`` inside one workspace, in pure Python.

The session API runs these on the server or a site. Nothing reaches a shell: options are
parsed against an allow-list per command, and every path must stay inside the workspace
root after resolving ``..`` and symlinks (absolute paths are refused outright).
"""

from __future__ import annotations

import re
import shlex
import stat
import time
from pathlib import Path

from cohort.errors import ErrorCode, InvalidRequest

__all__ = ["COMMANDS", "MAX_OUTPUT", "confine", "run_file_command"]

#: Longest answer of one command; the rest is cut with a note.
MAX_OUTPUT = 1024 * 1024
MAX_PATTERN = 256
COMMANDS = ("ls", "cat", "head", "tail", "grep")
#: Single-letter flags each command accepts (head/tail take ``-n N`` or ``-N`` besides).
_FLAGS = {"ls": "la1htr", "cat": "n", "head": "", "tail": "", "grep": "invcwF"}


def _refuse(message: str, code: ErrorCode = ErrorCode.INVALID_ARGS) -> InvalidRequest:
    return InvalidRequest(message, code=code)


def confine(root: Path, relative: str) -> Path:
    """``root/relative`` resolved; UNSAFE_PATH when it is absolute or leaves ``root``."""
    if relative.startswith(("/", "~")) or "\0" in relative:
        raise _refuse(f"{relative!r}: paths are relative to the workspace", ErrorCode.UNSAFE_PATH)
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise _refuse(f"{relative!r} leaves the workspace", ErrorCode.UNSAFE_PATH)
    return target


def _parse(command: str, options: str | None) -> tuple[set[str], int | None]:
    flags: set[str] = set()
    count: int | None = None
    words = shlex.split(options or "")
    i = 0
    while i < len(words):
        word = words[i]
        if command in ("head", "tail") and word == "-n" and i + 1 < len(words):
            word, i = f"-{words[i + 1]}", i + 1
        if command in ("head", "tail") and re.fullmatch(r"-\d{1,9}", word):
            count = int(word[1:])
        elif word.startswith("-") and len(word) > 1 and set(word[1:]) <= set(_FLAGS[command]):
            flags |= set(word[1:])
        else:
            raise _refuse(
                f"option {word!r} is not allowed for {command}",
            )
        i += 1
    return flags, count


def _cut(text: str) -> str:
    if len(text) <= MAX_OUTPUT:
        return text
    return text[:MAX_OUTPUT] + f"\n[cut at {MAX_OUTPUT} characters]\n"


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise _refuse(f"{path.name}: no such file", ErrorCode.NOT_FOUND)
    with path.open("rb") as fh:
        raw = fh.read(64 * MAX_OUTPUT)
    return raw.decode("utf-8", "replace").splitlines(keepends=True)


def _ls(root: Path, target: Path, flags: set[str]) -> str:
    if not target.exists():
        raise _refuse(f"{target.name}: no such file or folder", ErrorCode.NOT_FOUND)
    entries = sorted(target.iterdir()) if target.is_dir() else [target]
    if "a" not in flags:
        entries = [e for e in entries if not e.name.startswith(".")]
    if "t" in flags:
        entries.sort(key=lambda e: e.lstat().st_mtime, reverse=True)
    if "r" in flags:
        entries.reverse()
    if "l" not in flags:
        return "".join(f"{e.name}\n" for e in entries)
    lines = []
    for e in entries:
        st = e.lstat()
        size = _human(st.st_size) if "h" in flags else str(st.st_size)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime))
        lines.append(f"{stat.filemode(st.st_mode)} {size:>10} {when} {e.name}\n")
    return "".join(lines)


def _human(size: float) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024:
            return f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.0f}T"


def _grep(lines: list[str], flags: set[str], pattern: str) -> str:
    if not pattern or len(pattern) > MAX_PATTERN:
        raise _refuse(f"grep needs a pattern of 1-{MAX_PATTERN} characters")
    text = re.escape(pattern) if "F" in flags else pattern
    if "w" in flags:
        text = rf"\b(?:{text})\b"
    try:
        regex = re.compile(text, re.IGNORECASE if "i" in flags else 0)
    except re.error as exc:
        raise _refuse(f"bad pattern {pattern!r}: {exc}") from exc
    hits = [
        (n, line)
        for n, line in enumerate(lines, 1)
        if (regex.search(line) is not None) != ("v" in flags)
    ]
    if "c" in flags:
        return f"{len(hits)}\n"
    return "".join(f"{n}:{line}" if "n" in flags else line for n, line in hits)


def run_file_command(
    root: Path,
    command: str,
    options: str | None = None,
    path: str | None = None,
    pattern: str | None = None,
) -> str:
    """Run one of :data:`COMMANDS` in ``root``; INVALID_ARGS / UNSAFE_PATH on bad input."""
    if command not in COMMANDS:
        raise _refuse(f"{command!r} is not one of {', '.join(COMMANDS)}")
    flags, count = _parse(command, options)
    if command == "ls":
        return _cut(_ls(root, confine(root, path or "."), flags))
    if not path:
        raise _refuse(f"{command} needs a file")
    lines = _read_lines(confine(root, path))
    if command == "cat":
        out = [f"{n:6}\t{line}" for n, line in enumerate(lines, 1)] if "n" in flags else lines
        return _cut("".join(out))
    if command == "head":
        return _cut("".join(lines[: 10 if count is None else count]))
    if command == "tail":
        n = 10 if count is None else count
        return _cut("".join(lines[-n:] if n else []))
    return _cut(_grep(lines, flags, pattern or ""))
