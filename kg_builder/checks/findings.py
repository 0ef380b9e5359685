"""What validation finds: one finding per problem, grouped by patient and by file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rdflib import URIRef
from rdflib.namespace import SH

from ..terms import CMVRR, PATIENT_BASE, canonical_lexical

Severity = Literal["Violation", "Warning", "Info"]

SEVERITY: dict[URIRef, Severity] = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


@dataclass(frozen=True, order=True)
class Finding:
    """One thing to fix (Violation) or to weigh (Warning), about one node of one patient."""

    severity: Severity
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


def value_text(value: object) -> str:
    """Numbers in one spelling whichever validator produced them (-48000.0 and -48000 alike)."""
    if value is None:
        return ""
    datatype = getattr(value, "datatype", None)
    return canonical_lexical(str(value), str(datatype) if datatype else None)


def short_name(node: object) -> str:
    text = str(node)
    return (
        "cmvrr:" + text.removeprefix(str(CMVRR))
        if text.startswith(str(CMVRR)) and not text.startswith(PATIENT_BASE)
        else text
    )


__all__ = [
    "SEVERITY",
    "FileReport",
    "Finding",
    "PatientReport",
    "Severity",
    "ShaclFindings",
    "short_name",
    "value_text",
]
