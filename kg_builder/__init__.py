"""cmv-rr: the ASTCT 2021 guideline on resistant/refractory CMV after HCT as a knowledge graph.

The public API is small on purpose::

    from kg_builder import recommend
    [result] = recommend("ontology/examples/cases/row2-low-level-ul97.json")
    result.options[0].therapy   # 'ganciclovir' (high-dose, Table 4 row 2)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
    from .api import PatientDoesNotConform, build_graph, load_patient, recommend, validate
    from .checks.findings import FileReport
    from .decisions.model import Recommendation
    from .errors import CmvrrError, TableError
    from .knowledge.release import write_release

# Each name is imported when first used (PEP 562), not with the package: the command line then
# imports only what its subcommand needs (a cold `cmvrr recommend` does not build release files).
_HOMES = {
    "PatientDoesNotConform": ".api", "build_graph": ".api", "load_patient": ".api", "recommend": ".api",
    "validate": ".api", "FileReport": ".checks.findings", "Recommendation": ".decisions.model",
    "CmvrrError": ".errors", "TableError": ".errors", "write_release": ".knowledge.release",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .version import package_version

        return package_version()
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CmvrrError",
    "FileReport",
    "PatientDoesNotConform",
    "Recommendation",
    "TableError",
    "__version__",
    "build_graph",
    "load_patient",
    "recommend",
    "validate",
    "write_release",
]
