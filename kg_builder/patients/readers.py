"""Patient inputs as they come: one reader per input format, chosen in one place (reader_for).

An input becomes a PatientInput (its graph and the structural problems found before SHACL).
Formats: RDF in any syntax rdflib reads (Turtle, N-Triples, RDF/XML, JSON-LD), the JSON record
(record.py), JSON lines and N-Quads (one patient per line or named graph). This is the seam where
sequence data (FASTA/VCF) and FHIR will plug in: a new reader, and a new entry in reader_for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rdflib import Dataset, Graph

from ..errors import CmvrrError
from .record import InputProblem, records_graph

RDF_SYNTAX = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".n3": "n3",
    ".jsonld": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}
PATIENT_SUFFIXES = (".json", ".ttl", ".nt", ".jsonld", ".rdf", ".owl", ".n3")


class InputParseError(CmvrrError):
    """A file that cannot be read as JSON or RDF at all (exit code 2)."""


@dataclass
class PatientInput:
    """What one input file yields: its graph and any structural problems."""

    source: Path
    graph: Graph
    problems: list[InputProblem] = field(default_factory=list)

    @cached_property
    def ntriples(self) -> bytes:
        """The graph as N-Triples, written once for validation and decisions alike."""
        return self.graph.serialize(format="nt", encoding="utf-8")


Reader = Callable[[Path, str], "PatientInput"]


def reader_for(source: Path, text: str | None = None) -> Reader:
    """The reader of one input: JSON by its .json suffix (or, without a known RDF suffix, by
    content that opens like JSON), RDF otherwise."""
    suffix = source.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return read_json
    if text is not None and suffix not in RDF_SYNTAX and text.lstrip()[:1] in "{[":
        return read_json
    return read_rdf


def read_patient_file(path: Path) -> PatientInput:
    """Read one file; JSON by its .json suffix (or content), RDF otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputParseError(f"{path}: cannot read: {error}") from error
    return reader_for(path, text)(path, text)


def read_patient_text(text: str, source: Path) -> PatientInput:
    """Like read_patient_file, for text already in memory (a JSON-lines line, a named graph)."""
    return reader_for(source)(source, text)


def read_rdf(path: Path, text: str) -> PatientInput:
    graph = Graph()
    try:
        graph.parse(data=text, format=RDF_SYNTAX.get(path.suffix.lower(), "turtle"), publicID=path.resolve().as_uri())
    except Exception as error:  # rdflib's parsers raise many unrelated exception types
        raise InputParseError(f"{path}: not valid RDF: {_first_line(error)}") from error
    return PatientInput(path, graph)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _finite_number(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large to be a number")
    return number


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def read_json(path: Path, text: str) -> PatientInput:
    # Python reads NaN, Infinity and 1e999 (as inf) where RFC 8259 has no such numbers; refused
    # here, they cannot reach the graph as values no shape can judge.
    try:
        data = json.loads(text, parse_float=_finite_number, parse_constant=_not_json)
    except json.JSONDecodeError as error:
        raise InputParseError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from error
    except ValueError as error:
        raise InputParseError(f"{path}: not valid JSON: {error}") from error
    graph, problems = records_graph(data)
    return PatientInput(path, graph, problems)


@dataclass(frozen=True)
class WorkItem:
    """One patient to process: a file, or text cut from a JSON-lines or N-Quads file."""

    source: str
    path: Path | None = None
    text: str | None = None
    syntax_suffix: str = ".json"

    def read(self) -> PatientInput:
        """The item's patient graph (a parse error raises CmvrrError, caught by the callers)."""
        if self.path is not None:
            return read_patient_file(self.path)
        return read_patient_text(self.text or "", Path(f"item{self.syntax_suffix}"))


def work_items(inputs: Sequence[Path]) -> Iterator[WorkItem]:
    """Expand folders, JSON-lines and N-Quads files into one item per patient, lazily."""
    for path in inputs:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.is_file()
                    and child.suffix.lower() in PATIENT_SUFFIXES
                    and not child.name.endswith(".expected.json")
                ):
                    yield WorkItem(str(child), path=child)
        elif path.suffix.lower() == ".jsonl":
            with path.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        yield WorkItem(f"{path}:{number}", text=line, syntax_suffix=".json")
        elif path.suffix.lower() == ".nq":
            yield from _named_graphs(path)
        elif path.is_file():
            yield WorkItem(str(path), path=path)
        else:
            raise CmvrrError(f"{path}: no such file or folder")


def _named_graphs(path: Path) -> Iterator[WorkItem]:
    dataset = Dataset()
    try:
        dataset.parse(path, format="nquads")
    except Exception as error:  # rdflib's parsers raise many unrelated types
        raise CmvrrError(f"{path}: not valid N-Quads: {str(error).splitlines()[0] if str(error) else error}") from error
    for graph in dataset.graphs():
        if len(graph) and graph.identifier != dataset.default_graph.identifier:
            yield WorkItem(f"{path}#{graph.identifier}", text=graph.serialize(format="nt"), syntax_suffix=".nt")


__all__ = [
    "PATIENT_SUFFIXES",
    "RDF_SYNTAX",
    "InputParseError",
    "PatientInput",
    "WorkItem",
    "read_json",
    "read_patient_file",
    "read_patient_text",
    "read_rdf",
    "reader_for",
    "work_items",
]
