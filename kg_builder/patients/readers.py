"""Patient inputs as they come: one reader per input format, chosen in one place (reader_for).

An input becomes a PatientInput (its graph and the structural problems found before SHACL).
Formats: RDF in any syntax rdflib reads (Turtle, N-Triples, RDF/XML, JSON-LD), the JSON record
(record.py), JSON lines and N-Quads (one patient per line or named graph). This is the seam where
sequence data (FASTA/VCF) and FHIR will plug in: a new reader, and a new entry in reader_for.
"""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.plugins.parsers.notation3 import BadSyntax

from ..errors import CmvrrError, shown
from .ntriples import Triple, joined, patients_in, split_triples
from .record import InputProblem, ntriples_graph, records_triples

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


class PatientInput:
    """What one input file yields: its graph and any structural problems. A JSON record comes as
    N-Triples (record.py writes them directly); its rdflib graph is parsed from them only when
    asked for (the API, the reference validator and engine), never on the batch path."""

    def __init__(
        self, source: Path, graph: Graph | None = None, problems: list[InputProblem] | None = None,
        ntriples: bytes | None = None, triples: list[Triple] | None = None,
    ) -> None:  # fmt: skip
        if graph is None and ntriples is None:
            raise ValueError("a patient input needs a graph or its N-Triples")
        self.source, self.problems = source, problems if problems is not None else []
        if graph is not None:
            self.graph = graph
        if ntriples is not None:
            self.ntriples = ntriples
        if triples is not None:  # the same as split_triples(ntriples), given by whoever wrote them
            self.triples = triples

    @cached_property
    def graph(self) -> Graph:
        return ntriples_graph(self.ntriples)

    @cached_property
    def ntriples(self) -> bytes:
        """The graph as N-Triples, written once for validation and decisions alike."""
        return self.graph.serialize(format="nt", encoding="utf-8")

    @cached_property
    def triples(self) -> list[Triple]:
        return split_triples(self.ntriples)

    @cached_property
    def patients(self) -> list[str]:
        """The IRIs of its cmvrr:Patient nodes, sorted."""
        return patients_in(self.triples)


Reader = Callable[[Path, str], "PatientInput"]


def reader_for(source: Path, text: str | None = None, syntax: str | None = None) -> Reader:
    """The reader of one input: JSON by its .json suffix (or, without a known RDF suffix, by
    content that opens like JSON), RDF otherwise. ``syntax``: the suffix that names the format
    when ``source`` is no file name (a JSON-lines line is ".json", a named graph ".nt")."""
    suffix = syntax or source.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return read_json
    if text is not None and suffix not in RDF_SYNTAX and text.lstrip()[:1] in "{[":
        return read_json
    return partial(read_rdf, syntax=RDF_SYNTAX.get(suffix, "turtle"))


MAX_INPUT_BYTES = 64 * 1024 * 1024  # one patient file or JSON-lines line; a cohort streams as JSON lines


def read_patient_file(path: Path) -> PatientInput:
    """Read one file; JSON by its .json suffix (or content), RDF otherwise."""
    data = _file_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at offset {error.start:,}"
        raise InputParseError(f"{path}: not UTF-8 text: {where}") from error
    return reader_for(path, text)(path, text)


def _file_bytes(path: Path) -> bytes:
    """A regular file's bytes, refused beyond MAX_INPUT_BYTES (a device such as /dev/zero, a FIFO
    or a socket is refused before reading: they may never end)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputParseError(f"{path}: not a regular file (a device, FIFO or socket is not read)")
        if info.st_size > MAX_INPUT_BYTES:
            raise InputParseError(
                f"{path}: {info.st_size:,} bytes, more than the {MAX_INPUT_BYTES:,} a patient file may have "
                "(a cohort goes in as JSON lines, one patient per line)"
            )
        return path.read_bytes()
    except OSError as error:
        raise InputParseError(f"{path}: cannot read: {error.strerror or error}") from error


def read_patient_text(text: str, source: Path, syntax: str | None = None) -> PatientInput:
    """Like read_patient_file, for text already in memory (a JSON-lines line, a named graph);
    ``source`` names it in messages (cohort.jsonl:17)."""
    return reader_for(source, text, syntax)(source, text)


def read_rdf(path: Path, text: str, syntax: str | None = None) -> PatientInput:
    syntax = syntax or RDF_SYNTAX.get(path.suffix.lower(), "turtle")
    if syntax == "xml" and "<!ENTITY" in text:
        raise InputParseError(f"{path}: RDF/XML with entity declarations is refused (they can expand without bound)")
    if syntax == "json-ld":
        _refuse_remote_contexts(path, text)
    graph = Graph()
    try:
        graph.parse(data=text, format=syntax, publicID=_base(path))
    except BadSyntax as error:  # Turtle, N3: the parser's own words and the line
        raise InputParseError(f"{path}:{error.lines + 1}: not valid RDF: {error._why}") from error
    except Exception as error:  # rdflib's other parsers raise many unrelated exception types
        raise InputParseError(f"{path}: not valid RDF: {_first_line(error)}") from error
    problem = _unusable_triple(graph)
    if problem:
        raise InputParseError(f"{path}: not usable as patient data: {problem}")
    return PatientInput(path, graph)


def _refuse_remote_contexts(path: Path, text: str) -> None:
    """Nothing is fetched from outside: a JSON-LD @context (or @import) that names a document
    instead of holding the context would make the parser download it."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputParseError(f"{path}: not valid JSON-LD: {_first_line(error)}") from error
    for _, key, value in _json_nodes(data):
        contexts = value if isinstance(value, list) else [value]
        remote = next((c for c in contexts if isinstance(c, str)), None) if key in ("@context", "@import") else None
        if remote is not None:
            raise InputParseError(
                f"{path}: a remote JSON-LD context ({shown(remote, 200)}) is never fetched: put the context "
                "in the document"
            )


def _json_nodes(data: object) -> Iterator[tuple[tuple[object, ...], object, object]]:
    """Every value of a parsed JSON document: its path (the keys and indexes to it), the key that
    holds it in an object (None in a list and at the root), and the value."""
    stack: list[tuple[tuple[object, ...], object, object]] = [((), None, data)]
    while stack:
        where, key, node = stack.pop()
        yield where, key, node
        if isinstance(node, dict):
            stack += [((*where, name), name, value) for name, value in node.items()]
        elif isinstance(node, list):
            stack += [((*where, index), None, value) for index, value in enumerate(node)]


_NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\\ud800-\udfff]')  # what RDF 1.1's IRIREF excludes


def _unusable_triple(graph: Graph) -> str:
    """What rdflib parses but RDF 1.1 (and so N-Triples, the stores, the reports) cannot hold:
    a literal or a formula as a subject (N3), an IRI with a space, a quote or another character
    IRIREF excludes (Turtle's \\u0020 escapes make them), a lone surrogate. "" when all is well."""
    for triple in graph:
        for position, term in zip(("subject", "predicate", "object"), triple, strict=True):
            if isinstance(term, Graph):
                return f"an N3 formula {{...}} as the {position} of a triple"
            if isinstance(term, Literal) and position != "object":
                return f"the literal {shown(str(term), 80)!r} as the {position} of a triple"
            if isinstance(term, URIRef) and _NOT_IN_IRI.search(term):
                return f"the IRI <{shown(str(term), 200)}> holds a character no IRI may hold"
            if isinstance(term, Literal) and _SURROGATE.search(term):
                return f"a literal holds a lone surrogate escape: {shown(str(term), 80)!r}"
    return ""


def _base(path: Path) -> str:
    """The base IRI relative IRIs of the input resolve against: the file's own URI."""
    return path.resolve().as_uri()


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
    except ValueError as error:  # a non-finite number; an integer of more than 4,300 digits
        raise InputParseError(f"{path}: not valid JSON: {_first_line(error)}") from error
    except RecursionError as error:
        raise InputParseError(f"{path}: not a patient record: arrays or objects nested too deeply") from error
    # Only an escape (\ud800 ...) makes a lone surrogate; most texts hold none, and need no walk.
    where = _unencodable(data) if _SURROGATE_ESCAPE.search(text) else None
    if where is not None:
        raise InputParseError(f"{path}: not valid text: a lone surrogate escape (\\ud800-\\udfff) at {where}")
    triples, problems = records_triples(data, path.parent)  # a test's sequence_files sit beside the record
    return PatientInput(path, problems=problems, ntriples=joined(triples), triples=triples)


def _unencodable(data: object) -> str | None:
    """The JSON path of the first string (key or value) that is no Unicode text: json.loads
    accepts a lone surrogate escape such as "\\ud800", which UTF-8 cannot write."""
    for where, key, node in _json_nodes(data):
        if any(isinstance(text, str) and _SURROGATE.search(text) for text in (key, node)):
            return "/" + "/".join(map(str, where))
    return None


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class WorkItem:
    """One patient to process: a file, or text cut from a JSON-lines or N-Quads file, or a line
    that could not even be cut out (``problem``: it becomes that item's error, not the batch's)."""

    source: str
    path: Path | None = None
    text: str | None = None
    syntax_suffix: str = ".json"
    problem: str | None = None

    def read(self) -> PatientInput:
        """The item's patient graph (a parse error raises CmvrrError, caught by the callers)."""
        if self.problem is not None:
            raise InputParseError(self.problem)
        if self.path is not None:
            return read_patient_file(self.path)
        return read_patient_text(self.text or "", Path(self.source), self.syntax_suffix)


def work_items(inputs: Sequence[Path]) -> Iterator[WorkItem]:
    """Expand folders, JSON lists, JSON-lines and N-Quads files into one item per patient, lazily."""
    for path in inputs:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in PATIENT_SUFFIXES:
                    yield from _file_items(child)
        elif path.is_file():
            yield from _file_items(path)
        elif path.exists():
            raise CmvrrError(f"{path}: not a regular file or folder (a device, FIFO or socket is not read)")
        else:
            raise CmvrrError(f"{path}: no such file or folder")


def _file_items(path: Path) -> Iterator[WorkItem]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _json_lines(path)
    elif suffix == ".nq":
        yield from _named_graphs(path)
    elif suffix == ".json":
        yield from _json_records(path)
    else:
        yield WorkItem(str(path), path=path)


def _json_records(path: Path) -> Iterator[WorkItem]:
    """A JSON file holding a list of records is one item per record (named by its JSON Pointer,
    cohort.json#/2), so that one bad record costs only its own result; any other file is one item."""
    records = None
    try:  # only a list is read and parsed here; a single record is read once, by read()
        if _first_character(path) == b"[":
            records = json.loads(_file_bytes(path))
    except (OSError, CmvrrError, ValueError, RecursionError):  # read() reports it, in the one place that words it
        records = None
    if isinstance(records, list) and records:
        for index, record in enumerate(records):
            yield WorkItem(f"{path}#/{index}", text=json.dumps(record, allow_nan=True), syntax_suffix=".json")
    else:
        yield WorkItem(str(path), path=path)


def _first_character(path: Path) -> bytes:
    """The file's first byte that is not whitespace (b"" for none); ``path`` is a regular file."""
    with path.open("rb") as handle:
        while chunk := handle.read(4096):
            if stripped := chunk.lstrip():
                return stripped[:1]
    return b""


def _json_lines(path: Path) -> Iterator[WorkItem]:
    """One item per non-blank line; a line that is not UTF-8 is that line's error only."""
    with path.open("rb") as lines:
        for number, raw in enumerate(iter(partial(lines.readline, MAX_INPUT_BYTES + 1), b""), start=1):
            source = f"{path}:{number}"
            if len(raw) > MAX_INPUT_BYTES:
                while raw and not raw.endswith(b"\n"):  # the rest of the line, read in bounded pieces
                    raw = lines.readline(MAX_INPUT_BYTES)
                yield WorkItem(source, problem=f"{source}: a line of more than {MAX_INPUT_BYTES:,} bytes")
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                problem = f"{source}: not UTF-8 text: byte 0x{raw[error.start]:02x} at column {error.start + 1}"
                yield WorkItem(source, problem=problem)
                continue
            if line.strip():
                yield WorkItem(source, text=line, syntax_suffix=".json")


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
