"""The small Python API: build the graph, load a patient, validate, recommend."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from .decide import Recommendation, recommend_graph
from .errors import CmvrrError
from .patient import read_patient_file
from .release import release_graph
from .validate import FileReport, validate_input


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
    item = read_patient_file(Path(path))
    report = validate_input(item, validator=validator)
    if not report.conforms:
        raise PatientDoesNotConform(report)
    warnings = [f"{f.focus}: {f.message}" for p in report.patients for f in p.findings if f.severity != "Violation"]
    return recommend_graph(item.graph, engine, warnings)
