"""Validate patient inputs: JSON Schema problems, SHACL results, optional reference FASTA check.

The patient graph is validated merged with the knowledge graph (docs/architecture.md, Traps: pyshacl's
ont_graph does not carry plain individuals, so sh:class against knowledge-graph individuals
needs the graphs merged). Results are grouped by patient.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from ..knowledge.graph import parse_module, validation_context, validation_context_ntriples
from ..paths import SHAPES_DIR
from ..patients.readers import PatientInput, read_patient_file
from ..terms import CMVRR, PATIENT_BASE, patient_name
from .chunks import isolated_chunks, owner, patients_of
from .compiler import FastValidator
from .findings import SEVERITY, FileReport, Finding, PatientReport, ShaclFindings, short_name
from .reference import reference_findings
from .shacl import pyshacl_findings

# rdflib logs a traceback for every ill-typed literal (2025-02-30 as xsd:date); the shapes
# report those as findings, so the log would only repeat them with a traceback.
logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)

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
        for finding_node, finding in shacl_findings(item.graph, validator) if shacl is None else shacl:
            for patient in owners.get(finding_node, patients):
                reports[patient].findings.append(_relative(finding, patient))
        if reference:
            for patient in patients:
                reports[patient].findings += reference_findings(item.graph, reference, owners, patient)
    for report in reports.values():
        report.findings = sorted(set(report.findings))
    return FileReport(str(item.source), [reports[key] for key in sorted(reports)])


@cache
def fast_validator() -> FastValidator:
    return FastValidator(validation_context_ntriples(), patient_shapes())


def _fast_findings(data: bytes) -> ShaclFindings:
    for severity, focus, path, message, value in fast_validator().results(data):
        yield focus, Finding(SEVERITY[URIRef(severity)], focus, short_name(path) if path else "", message, value)


def shacl_findings(graph: Graph, validator: str = "oxigraph") -> Iterable[tuple[str, Finding]]:
    """SHACL results as (focus IRI, finding). pyshacl is the reference; the default compiles the
    same shapes to SPARQL for Oxigraph (tests prove both report the same)."""
    if validator == "oxigraph":
        yield from _fast_findings(graph.serialize(format="nt", encoding="utf-8"))
        return
    yield from pyshacl_findings(graph, patient_shapes(), validation_context())


def _relative(finding: Finding, patient: str) -> Finding:
    """Name nodes as a reader of the patient's record would: viral-load/2, not the full IRI."""

    def name(node: str) -> str:
        if node == patient:
            return "(patient)"
        return node[len(patient) + 1 :] if node.startswith(patient + "/") else short_name(node)

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


__all__ = [
    "fast_validator",
    "patient_shapes",
    "shacl_findings",
    "validate_chunk",
    "validate_files",
    "validate_input",
    "validate_inputs",
]
