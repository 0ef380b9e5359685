"""cmv-rr: the ASTCT 2021 guideline on resistant/refractory CMV after HCT as a knowledge graph.

The public API is small on purpose; everything else is an implementation detail.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cmv-rr")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .errors import CmvrrError, TableError
from .release import release_graph, write_release

__all__ = ["CmvrrError", "TableError", "__version__", "release_graph", "write_release"]
