"""Errors the command line turns into messages and exit codes (docs/architecture.md, Safety rules)."""

from __future__ import annotations

from pathlib import Path


class CmvrrError(Exception):
    """A problem the user can fix; the message names the file, the place and the problem."""

    exit_code = 2


class TableError(CmvrrError):
    """A curated table row that breaks a curation rule: the build stops, writing nothing."""

    exit_code = 1

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"{path.name}:{line}: {message}")


__all__ = ["CmvrrError", "TableError"]
