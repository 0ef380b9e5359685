"""Errors the command line turns into messages and exit codes (docs/architecture.md, Safety rules)."""

from __future__ import annotations

import re
from pathlib import Path


class CmvrrError(Exception):
    """A problem the user can fix; the message names the file, the place and the problem."""

    exit_code = 2


class RuntimeFailure(CmvrrError):
    """The input was fine; the machine or the network was not: a full disk, a busy port, an
    endpoint that cannot be reached or refuses (exit code 3)."""

    exit_code = 3


# One table for every command (cmvrr --help, README).
EXIT_CODES = {
    0: "ok (every patient of a batch got its plan)",
    1: "input does not conform (a patient, a record, a curated table row), or some items of a batch failed",
    2: "usage or parse error (bad arguments; a file that is not JSON or RDF, or cannot be read)",
    3: "runtime failure: a full disk, a busy port, an endpoint unreachable or refusing, an internal error",
    130: "interrupted (Ctrl-C): nothing half-written is left behind",
    143: "terminated (SIGTERM): as for Ctrl-C",
}


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that it unwinds like Ctrl-C (exit code 143)."""


class TableError(CmvrrError):
    """A curated table row that breaks a curation rule: the build stops, writing nothing."""

    exit_code = 1

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"{path.name}:{line}: {message}")


_UNPRINTABLE = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff]")


def shown(text: str, limit: int = 2000) -> str:
    """Text from an input, safe to print: control characters and terminal escape codes written as
    escapes (never sent raw to a terminal), and at most ``limit`` characters."""
    clipped = text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape", "backslashreplace").decode(), clipped)


def error_text(error: BaseException) -> str:
    """An unexpected error in one line: its type and the first line of its message."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


__all__ = ["EXIT_CODES", "CmvrrError", "RuntimeFailure", "TableError", "Terminated", "error_text", "shown"]
