"""Validate patient inputs: JSON Schema problems, SHACL results, optional reference FASTA check.

The patient graph is validated merged with the knowledge graph (DESIGN.md, Traps: pyshacl's
ont_graph does not carry plain individuals, so sh:class against knowledge-graph individuals
needs the graphs merged). Results are grouped by patient.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS, SH

from .cache import cached_bytes
from .chunks import isolated_chunks, owner, patients_of
from .errors import CmvrrError
from .fastshacl import FastValidator
from .namespaces import CMVRR
from .paths import SHAPES_DIR
from .patient import PATIENT_BASE, PatientInput, patient_name, read_patient_file
from .release import parse_module
from .store import _canonical, knowledge

# rdflib logs a traceback for every ill-typed literal (2025-02-30 as xsd:date); the shapes
# report those as findings, so the log would only repeat them with a traceback.
logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)

SEVERITY = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


@dataclass(frozen=True, order=True)
class Finding:
    """One thing to fix (Violation) or to weigh (Warning), about one node of one patient."""

    severity: str
    focus: str
    path: str
    message: str
    value: str = ""


ShaclFindings = Iterable[tuple[str, Finding]]  # (focus IRI, finding)


@dataclass
class PatientReport:
    patient: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not any(finding.severity == "Violation" for finding in self.findings)


@dataclass
class FileReport:
    file: str
    patients: list[PatientReport]

    @property
    def conforms(self) -> bool:
        return all(report.conforms for report in self.patients)


# What the patient shapes need to see of the knowledge graph: its class hierarchy and the
# individuals that sh:class and the residue check look up, with their type-level facts.
_CONTEXT_PREDICATES = (
    RDF.type,
    RDFS.subClassOf,
    CMVRR.inGene,
    CMVRR.aminoAcidPosition,
    CMVRR.referenceResidue,
    CMVRR.alternativeResidue,
    CMVRR.proteinLength,
)


@cache
def knowledge_context() -> Graph:
    """The slice of ontology and knowledge graph every patient is validated against.

    A slice rather than the whole graph keeps pyshacl's copy of the data graph small."""
    full = knowledge()  # the one build of the full graph, shared with the engines
    context = Graph()
    for predicate in _CONTEXT_PREDICATES:
        for triple in full.triples((None, predicate, None)):
            if isinstance(triple[0], URIRef):
                context.add(triple)
    return context


@cache
def patient_shapes() -> Graph:
    return parse_module(SHAPES_DIR / "patient.ttl")


def validate_files(
    paths: Sequence[Path], reference: dict[str, str] | None = None, validator: str = "oxigraph"
) -> list[FileReport]:
    """Read every file first (a parse error stops everything: exit 2), then validate each (in
    chunks of files that cannot see each other: the same reports, faster)."""
    return validate_inputs([read_patient_file(path) for path in paths], reference, validator)


def validate_inputs(
    items: Sequence[PatientInput], reference: dict[str, str] | None = None, validator: str = "oxigraph"
) -> list[FileReport]:
    """validate_input for each item; with the fast validator, one run of the checks per chunk of
    inputs that cannot see each other (chunks.py)."""
    if validator != "oxigraph":
        return [validate_input(item, reference, validator) for item in items]
    reports: dict[int, FileReport] = {}
    for chunk in isolated_chunks([item.graph for item in items]):
        reports.update(zip(chunk, validate_chunk([items[index] for index in chunk], reference), strict=True))
    return [reports[index] for index in range(len(items))]


def validate_chunk(items: Sequence[PatientInput], reference: dict[str, str] | None = None) -> list[FileReport]:
    """Reports for inputs that isolated_chunks put together, from one run of the fast validator.
    A result on a node the inputs share (a mutation several name) sends the inputs that name it
    to runs of their own, as only they know whether it is theirs."""
    if len(items) == 1:
        return [validate_input(items[0], reference)]
    roots = {root: index for index, item in enumerate(items) for root in patients_of(item.graph)}
    merged = b"".join(item.ntriples for item in items)
    found: list[list[tuple[str, Finding]]] = [[] for _ in items]
    alone: set[int] = set()
    for focus, finding in _fast_findings(merged):
        root = owner(focus, roots)
        if root is not None:
            found[roots[root]].append((focus, finding))
        else:
            named = [index for index, item in enumerate(items) if URIRef(focus) in set(item.graph.all_nodes())]
            alone.update(named or range(len(items)))
    return [
        validate_input(item, reference, "oxigraph", None if index in alone else found[index])
        for index, item in enumerate(items)
    ]


def validate_input(
    item: PatientInput,
    reference: dict[str, str] | None = None,
    validator: str = "oxigraph",
    shacl: ShaclFindings | None = None,
) -> FileReport:
    """One input's report. ``shacl``: its SHACL results when a chunk run found them already."""
    patients = sorted(str(p) for p in item.graph.subjects(RDF.type, CMVRR.Patient))
    reports = {iri: PatientReport(patient_name(iri)) for iri in patients}
    for problem in item.problems:
        iri = PATIENT_BASE + problem.patient
        reports.setdefault(iri, PatientReport(problem.patient)).findings.append(
            Finding("Violation", "(record)", problem.path, problem.message)
        )
    if not reports:
        reports["(file)"] = PatientReport(
            "(none)", [Finding("Violation", "(file)", "", "the file describes no cmvrr:Patient")]
        )
    if len(item.graph):
        owners = _owners(item.graph, patients)
        for finding_node, finding in _shacl_findings(item.graph, validator) if shacl is None else shacl:
            for patient in owners.get(finding_node, patients):
                reports[patient].findings.append(_relative(finding, patient))
        if reference:
            for patient in patients:
                reports[patient].findings += _reference_findings(item.graph, reference, owners, patient)
    for report in reports.values():
        report.findings = sorted(set(report.findings))
    return FileReport(str(item.source), [reports[key] for key in sorted(reports)])


VALIDATORS = ("oxigraph", "pyshacl")


@cache
def _fast_validator() -> FastValidator:
    context = cached_bytes("validation-context", lambda: knowledge_context().serialize(format="nt", encoding="utf-8"))
    return FastValidator(context, patient_shapes())


def _fast_findings(data: bytes) -> ShaclFindings:
    for severity, focus, path, message, value in _fast_validator().results(data):
        yield focus, Finding(SEVERITY[URIRef(severity)], focus, _short(path) if path else "", message, value)


def _shacl_findings(graph: Graph, validator: str = "oxigraph") -> Iterable[tuple[str, Finding]]:
    """SHACL results as (focus IRI, finding). pyshacl is the reference; the default compiles the
    same shapes to SPARQL for Oxigraph (tests prove both report the same)."""
    if validator == "oxigraph":
        yield from _fast_findings(graph.serialize(format="nt", encoding="utf-8"))
        return
    from pyshacl import validate as shacl_validate  # the reference engine; slow to import, so only here

    data = graph + knowledge_context()
    _, results, _ = shacl_validate(
        data, shacl_graph=patient_shapes(), advanced=True, inference="none", allow_warnings=True
    )
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        value = results.value(result, SH.value)
        message = results.value(result, SH.resultMessage)
        severity = SEVERITY.get(URIRef(str(results.value(result, SH.resultSeverity))), "Violation")
        yield (
            str(focus),
            Finding(
                severity,
                str(focus),
                _short(path) if isinstance(path, URIRef) else "",
                str(message) if message is not None else "does not conform",
                _value_text(value),
            ),
        )


def _value_text(value: object) -> str:
    """Numbers in one spelling whichever validator produced them (-48000.0 and -48000 alike)."""
    if value is None:
        return ""
    datatype = getattr(value, "datatype", None)
    return _canonical(str(value), str(datatype) if datatype else None)


def _short(node: object) -> str:
    text = str(node)
    return (
        "cmvrr:" + text.removeprefix(str(CMVRR))
        if text.startswith(str(CMVRR)) and not text.startswith(PATIENT_BASE)
        else text
    )


def _relative(finding: Finding, patient: str) -> Finding:
    """Name nodes as a reader of the patient's record would: viral-load/2, not the full IRI."""

    def name(node: str) -> str:
        if node == patient:
            return "(patient)"
        return node[len(patient) + 1 :] if node.startswith(patient + "/") else _short(node)

    value = "" if finding.value == finding.focus else name(finding.value)
    return Finding(finding.severity, name(finding.focus), finding.path, finding.message, value)


def _owners(graph: Graph, patients: Iterable[str]) -> dict[str, list[str]]:
    """Which patients each node belongs to (everything reachable from the patient node)."""
    owners: dict[str, list[str]] = defaultdict(list)
    for patient in patients:
        seen, stack = {patient}, [URIRef(patient)]
        while stack:
            node = stack.pop()
            owners[str(node)].append(patient)
            for obj in graph.objects(node, None):
                if isinstance(obj, URIRef) and str(obj) not in seen:
                    seen.add(str(obj))
                    stack.append(obj)
    return owners


def read_fasta(path: Path) -> dict[str, str]:
    """Gene -> protein sequence; the gene is the first word of each header (>UL97 ...)."""
    sequences: dict[str, str] = {}
    name = ""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise CmvrrError(f"{path}: cannot read the reference FASTA: {error}") from error
    for number, line in enumerate(lines, start=1):
        if line.startswith(">"):
            name = (line[1:].split() or [""])[0].upper()
            sequences[name] = ""
        elif line.strip():
            if not name:
                raise CmvrrError(f"{path}:{number}: sequence before the first '>' header")
            sequences[name] += line.strip().upper()
    if not sequences:
        raise CmvrrError(f"{path}: no sequences in the reference FASTA")
    return sequences


def _reference_findings(
    graph: Graph, reference: dict[str, str], owners: dict[str, list[str]], patient: str
) -> list[Finding]:
    """Safety rule 3 with a user-given reference: check every position, not only known ones."""
    findings = []
    for mutation in set(graph.objects(None, CMVRR.ofMutation)):
        if patient not in owners.get(str(mutation), []):
            continue
        gene = str(graph.value(mutation, CMVRR.inGene)).removeprefix(str(CMVRR))
        position = graph.value(mutation, CMVRR.aminoAcidPosition)
        residue = graph.value(mutation, CMVRR.referenceResidue)
        sequence = reference.get(gene)
        if sequence is None or position is None:
            continue
        name = _short(mutation)
        place = int(str(position))
        if place > len(sequence):
            message = f"{name}: position {place} lies outside {gene} in the reference FASTA ({len(sequence)} residues)."
            findings.append(Finding("Violation", name, "cmvrr:aminoAcidPosition", message))
        elif residue is not None and sequence[place - 1] != str(residue):
            message = f"{name}: the reference FASTA has {sequence[place - 1]} at {gene} {place}, not {residue}."
            findings.append(Finding("Violation", name, "cmvrr:referenceResidue", message))
    return findings
