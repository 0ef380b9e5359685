"""Validate patient inputs: JSON Schema problems, SHACL results, optional reference FASTA check.

The patient graph is validated merged with the knowledge graph (docs/architecture.md, Traps: pyshacl's
ont_graph does not carry plain individuals, so sh:class against knowledge-graph individuals
needs the graphs merged). Results are grouped by patient.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from rdflib import Graph, URIRef

from ..cache import cached_bytes
from ..knowledge.graph import parse_module, validation_context, validation_context_ntriples
from ..paths import SHAPES_DIR
from ..patients.ntriples import owners
from ..patients.readers import PatientInput, read_patient_file
from ..terms import PATIENT_BASE, patient_name
from .chunks import isolated_chunks, owner
from .compiler import FastValidator, checks_from_json, checks_json, compile_shapes
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
    for chunk in isolated_chunks(items):
        reports.update(zip(chunk, validate_chunk([items[index] for index in chunk], reference), strict=True))
    return [reports[index] for index in range(len(items))]


def validate_chunk(items: Sequence[PatientInput], reference: dict[str, str] | None = None) -> list[FileReport]:
    """Reports for inputs that isolated_chunks put together, from one run of the fast validator.
    A result on a node the inputs share (a mutation several name) sends the inputs that name it
    to runs of their own, as only they know whether it is theirs."""
    if len(items) == 1:
        return [validate_input(items[0], reference)]
    roots = {root: index for index, item in enumerate(items) for root in item.patients}
    merged = b"".join(item.ntriples for item in items)
    found: list[list[tuple[str, Finding]]] = [[] for _ in items]
    alone: set[int] = set()
    for focus, finding in _fast_findings(merged):
        root = owner(focus, roots)
        if root is not None:
            found[roots[root]].append((focus, finding))
        else:
            named = [index for index, item in enumerate(items) if _names(item, focus)]
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
    patients = item.patients
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
    if item.triples:
        found = list(shacl_findings(item, validator) if shacl is None else shacl)
        owned = owners(item.triples, patients) if found or reference else {}
        for finding_node, finding in found:
            for patient in owned.get(finding_node, patients):
                reports[patient].findings.append(_relative(finding, patient))
        if reference:
            for patient in patients:
                reports[patient].findings += reference_findings(item.graph, reference, owned, patient)
    for report in reports.values():
        report.findings = sorted(set(report.findings))
    return FileReport(str(item.source), [reports[key] for key in sorted(reports)])


@cache
def fast_validator() -> FastValidator:
    compiled = cached_bytes("patient-checks", lambda: checks_json(compile_shapes(patient_shapes())), ".json")
    return FastValidator(validation_context_ntriples(), checks_from_json(compiled))


def _fast_findings(data: bytes) -> ShaclFindings:
    for severity, focus, path, message, value in fast_validator().results(data):
        yield focus, Finding(SEVERITY[URIRef(severity)], focus, short_name(path) if path else "", message, value)


def shacl_findings(item: PatientInput, validator: str = "oxigraph") -> Iterable[tuple[str, Finding]]:
    """SHACL results as (focus IRI, finding). pyshacl is the reference; the default compiles the
    same shapes to SPARQL for Oxigraph (tests prove both report the same)."""
    if validator == "oxigraph":
        yield from _fast_findings(item.ntriples)
        return
    yield from pyshacl_findings(item.graph, patient_shapes(), validation_context())


def _names(item: PatientInput, iri: str) -> bool:
    """Whether the input names the node ``iri``, as subject or object."""
    term = f"<{iri}>"
    return any(term in (subject, value) for subject, _, value in item.triples)


def _relative(finding: Finding, patient: str) -> Finding:
    """Name nodes as a reader of the patient's record would: viral-load/2, not the full IRI."""

    def name(node: str) -> str:
        if node == patient:
            return "(patient)"
        return node[len(patient) + 1 :] if node.startswith(patient + "/") else short_name(node)

    value = "" if finding.value == finding.focus else name(finding.value)
    return Finding(finding.severity, name(finding.focus), finding.path, finding.message, value)


__all__ = [
    "fast_validator",
    "patient_shapes",
    "shacl_findings",
    "validate_chunk",
    "validate_files",
    "validate_input",
    "validate_inputs",
]
