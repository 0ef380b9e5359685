"""Output files written all or nothing, never over an input, with the user's umask.

Every command that writes a file goes through ``atomic_output``: the text goes to a staging file
beside the target (same file system, so the final rename is atomic) that is removed if anything
goes wrong, Ctrl-C included. An existing target is replaced only with ``force``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ..errors import CmvrrError


def check_target(target: Path, inputs: Sequence[Path] = (), force: bool = False) -> None:
    """Refuse a target that is an input or lies inside an input folder (a later run would read
    it back as patients), and an existing target unless ``force``."""
    resolved = target.resolve()
    for source in inputs:
        origin = source.resolve()
        if resolved == origin or (origin.is_dir() and resolved.is_relative_to(origin)):
            raise CmvrrError(f"{target}: the output would overwrite or lie inside the input {source}")
    if target.exists() and not force:
        raise CmvrrError(f"{target}: exists; give --force to replace it")


@contextmanager
def atomic_output(target: Path, inputs: Sequence[Path] = (), force: bool = False) -> Iterator[TextIO]:
    """A text stream whose content becomes ``target`` only when the block ends without error."""
    check_target(target, inputs, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    staging = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        staging.chmod(0o666 & ~_umask())  # mkstemp makes 0600; the result gets the user's umask
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["atomic_output", "check_target"]
