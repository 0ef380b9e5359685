"""cmv-rr: the ASTCT 2021 guideline on resistant/refractory CMV after HCT as a knowledge graph.

The public API is small on purpose::

    from kg_builder import recommend
    [result] = recommend("ontology/examples/cases/row2-low-level-ul97.json")
    result.options[0].therapy   # 'ganciclovir' (high-dose, Table 4 row 2)
"""

from __future__ import annotations

from .api import PatientDoesNotConform, build_graph, load_patient, recommend, validate
from .checks.findings import FileReport
from .decisions.model import Recommendation
from .errors import CmvrrError, TableError
from .knowledge.release import write_release
from .version import __version__

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
