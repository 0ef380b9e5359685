"""The reference validator: pySHACL over the patient graph merged with the knowledge-graph slice
(pySHACL's ont_graph copies classes and properties but not plain individuals, so sh:class
against knowledge-graph individuals needs the graphs merged; docs/architecture.md, Traps)."""

from __future__ import annotations

from collections.abc import Iterator

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from .findings import SEVERITY, Finding, short_name, value_text


def pyshacl_findings(
    graph: Graph, shapes: Graph, context: Graph
) -> Iterator[tuple[str, Finding]]:
    """(focus IRI, finding) for every result pySHACL reports."""
    from pyshacl import validate as shacl_validate  # the reference engine; slow to import, so only here

    data = graph + context
    _, results, _ = shacl_validate(
        data, shacl_graph=shapes, advanced=True, inference="none", allow_warnings=True
    )
    return report_findings(results)


def report_findings(results: Graph) -> Iterator[tuple[str, Finding]]:
    """(focus IRI, finding) for every result of a pySHACL report graph."""
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
                short_name(path) if isinstance(path, URIRef) else "",
                str(message) if message is not None else "does not conform",
                value_text(value),
            ),
        )



__all__ = ["pyshacl_findings", "report_findings"]
