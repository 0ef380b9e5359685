"""The small Python API: build the graph, load a patient, validate, recommend."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from .checks.findings import FileReport
from .checks.validate import validate_input
from .decisions.model import Recommendation
from .errors import CmvrrError
from .knowledge.graph import release_graph
from .patients.readers import read_patient_file
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


def load_patient(path: Path | str) -> Graph:
    """A patient file (Turtle/RDF or the JSON record) as a patient graph; raises on unreadable input."""
    item = read_patient_file(Path(path))
    if item.problems:
        raise CmvrrError(f"{path}: " + "; ".join(f"{p.path}: {p.message}" for p in item.problems))
    return item.graph


def validate(path: Path | str) -> FileReport:
    """Validate one patient file against the SHACL shapes (and the JSON Schema for JSON)."""
    return validate_input(read_patient_file(Path(path)))


def recommend(path: Path | str, engine: str = "oxigraph", validator: str = "oxigraph") -> list[Recommendation]:
    """Validate, then derive what the guideline says for every patient in the file."""
    report, recommendations = evaluate(read_patient_file(Path(path)), engine, validator)
    if not report.conforms:
        raise PatientDoesNotConform(report)
    return list(recommendations)


__all__ = ["PatientDoesNotConform", "build_graph", "load_patient", "recommend", "validate"]
