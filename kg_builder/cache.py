"""The built knowledge graph cached on disk, keyed by its sources, so that a process on the fast
path loads N-Triples straight into Oxigraph instead of building the graph from the tables.

The cache sits next to the release (ontology/release/.cache) where that is writable, else in the
user's cache folder. The key covers every input of a cached build: the tables, the ontology
modules, the shapes, all of the package's code and schemas, and its version. Any change to one gives a new
key, so a stale entry is never read. Caching is best effort: a read-only disk
only means the graph is built each time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from .paths import CMV_MODULE, CORE_MODULE, ONTOLOGY_DIR, PACKAGE_DIR, RELEASE_DIR, SHAPES_DIR, TABLES_DIR


def sources() -> list[Path]:
    """Every file a cached build reads or runs: tables, modules, shapes, the package's code and schemas."""
    # The package's JSON schemas too: the patient schema is compiled to code and cached.
    code = sorted(path for path in PACKAGE_DIR.rglob("*.py") if "_data" not in path.parts)
    code += sorted(PACKAGE_DIR.rglob("*.schema.json"))
    second_source = sorted((ONTOLOGY_DIR / "sources").glob("herpesdrg*"))
    tables = sorted(TABLES_DIR.glob("*.tsv"))
    return [*tables, *second_source, CORE_MODULE, CMV_MODULE, *sorted(SHAPES_DIR.glob("*.ttl")), *code]


@cache
def sources_digest() -> str:
    digest = hashlib.sha256()  # the release version is in the sources too (the ontology modules carry it)
    for path in sources():
        digest.update(f"{path.parent.name}/{path.name}".encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    local = RELEASE_DIR / ".cache"
    if os.access(RELEASE_DIR, os.W_OK):
        return local
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cmv-rr"


def cached_bytes(name: str, build: Callable[[], bytes], suffix: str = ".nt") -> bytes:
    """The bytes cached under ``name`` for the current sources, built (and stored) when missing."""
    folder = cache_dir()
    path = folder / f"{name}-{sources_digest()}{suffix}"
    try:
        return path.read_bytes()
    except OSError:
        pass
    data = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as part:
            part.write(data)
        os.replace(part.name, path)
    except OSError:
        pass  # read-only or full disk: the caller has the bytes all the same
    return data


__all__ = ["cache_dir", "cached_bytes", "sources", "sources_digest"]
