"""The built knowledge graph cached on disk, keyed by its sources, so that a process on the fast
path loads N-Triples straight into Oxigraph instead of building the graph from the tables.

The cache sits next to the release (ontology/release/.cache) where that is writable, else in the
user's cache folder. Any change to a table, an ontology module, the builder code or the package
version gives a new key, so a stale entry is never read. Caching is best effort: a read-only disk
only means the graph is built each time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from .paths import CMV_MODULE, CORE_MODULE, RELEASE_DIR, TABLES_DIR

_PACKAGE = Path(__file__).resolve().parent
_BUILDER_CODE = ("knowledge.py", "tables.py", "rdfterms.py", "mutations.py", "namespaces.py", "validate.py", "cache.py")


@cache
def sources_digest() -> str:
    from . import __version__

    digest = hashlib.sha256(__version__.encode())
    sources = [*sorted(TABLES_DIR.glob("*.tsv")), CORE_MODULE, CMV_MODULE, *(_PACKAGE / name for name in _BUILDER_CODE)]
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    local = RELEASE_DIR / ".cache"
    if os.access(RELEASE_DIR, os.W_OK):
        return local
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cmv-rr"


def cached_bytes(name: str, build: Callable[[], bytes]) -> bytes:
    """The bytes cached under ``name`` for the current sources, built (and stored) when missing."""
    folder = cache_dir()
    path = folder / f"{name}-{sources_digest()}.nt"
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
