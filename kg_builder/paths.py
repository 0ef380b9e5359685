"""Where the package's data lives: the one place that resolves paths (docs/architecture.md, Layout).

In a source checkout (and an editable install) the ontology and queries sit at the top of the
repository; a wheel carries the same folders inside the package as ``kg_builder/_data``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _data_root() -> Path:
    bundled = PACKAGE_DIR / "_data"
    return bundled if (bundled / "ontology").is_dir() else PACKAGE_DIR.parent


DATA_ROOT = _data_root()
ONTOLOGY_DIR = DATA_ROOT / "ontology"
TABLES_DIR = ONTOLOGY_DIR / "tables"
SHAPES_DIR = ONTOLOGY_DIR / "shapes"
EXAMPLES_DIR = ONTOLOGY_DIR / "examples"
RELEASE_DIR = ONTOLOGY_DIR / "release"
SOURCES_DIR = ONTOLOGY_DIR / "sources"  # what the package derives from outside sources (HerpesDRG, NC_006273.2)
QUERIES_DIR = DATA_ROOT / "queries"
CORE_MODULE = ONTOLOGY_DIR / "guideline-core.ttl"
CMV_MODULE = ONTOLOGY_DIR / "cmv-rr.ttl"


def query_path(name: str) -> Path:
    """The packaged query called ``name`` (with or without the ``.rq`` suffix)."""
    return QUERIES_DIR / (name if name.endswith(".rq") else f"{name}.rq")


__all__ = [
    "CMV_MODULE",
    "CORE_MODULE",
    "DATA_ROOT",
    "EXAMPLES_DIR",
    "ONTOLOGY_DIR",
    "PACKAGE_DIR",
    "QUERIES_DIR",
    "RELEASE_DIR",
    "SHAPES_DIR",
    "SOURCES_DIR",
    "TABLES_DIR",
    "query_path",
]
