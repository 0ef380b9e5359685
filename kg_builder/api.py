"""The small Python API: build the graph, load a patient, validate, recommend."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rdflib import Graph

from .checks.findings import FileReport
from .checks.validate import validate_input
from .decisions.model import Recommendation
from .errors import CmvrrError
from .knowledge.graph import release_graph
from .patients.readers import PatientInput, read_patient_file, read_patient_text
from .pipeline import evaluate


class PatientDoesNotConform(CmvrrError):
    """The patient was rejected by validation; ``report`` says why."""

    exit_code = 1

    def __init__(self, report: FileReport) -> None:
        self.report = report
        problems = [f"{f.focus}: {f.message}" for p in report.patients for f in p.findings if f.severity == "Violation"]
        super().__init__(f"{report.file} does not conform: " + "; ".join(problems))


def build_graph() -> Graph:
    """The release (ontology + knowledge graph) as one rdflib graph."""
    return release_graph()


PatientSource = Path | str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | Graph


def patient_input(source: PatientSource) -> PatientInput:
    """A patient from a file path, a JSON record (or a list of them) already in memory, or an
    rdflib graph: a record goes through the very reader a .json file does."""
    if isinstance(source, Graph):
        return PatientInput(Path("<graph>"), source)
    if isinstance(source, (Path, str)):
        return read_patient_file(Path(source))
    try:
        text = json.dumps(source, allow_nan=True)
    except (TypeError, ValueError, RecursionError) as error:
        raise CmvrrError(f"<record>: not a JSON record: {error}") from error
    return read_patient_text(text, Path("<record>"), ".json")


def load_patient(source: PatientSource) -> Graph:
    """A patient (file, record or graph) as a patient graph; raises on unreadable input."""
    item = patient_input(source)
    if item.problems:
        raise CmvrrError(f"{item.source}: " + "; ".join(f"{p.path}: {p.message}" for p in item.problems))
    return item.graph


def validate(source: PatientSource) -> FileReport:
    """Validate one patient (file, record or graph) against the SHACL shapes (and the JSON
    Schema for a record)."""
    return validate_input(patient_input(source))


def recommend(source: PatientSource, engine: str = "oxigraph", validator: str = "oxigraph") -> list[Recommendation]:
    """Validate, then derive what the guideline says for every patient in the file, record or graph."""
    report, recommendations = evaluate(patient_input(source), engine, validator)
    if not report.conforms:
        raise PatientDoesNotConform(report)
    return list(recommendations)


__all__ = [
    "PatientDoesNotConform",
    "PatientSource",
    "build_graph",
    "load_patient",
    "patient_input",
    "recommend",
    "validate",
]
