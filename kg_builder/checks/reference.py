"""A user-given reference FASTA checks every mutation position, not only the known ones
(Safety rule 3, docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from ..errors import CmvrrError
from ..terms import CMVRR
from .findings import Finding, short_name


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


def reference_findings(
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
        name = short_name(mutation)
        place = int(str(position))
        if place > len(sequence):
            message = f"{name}: position {place} lies outside {gene} in the reference FASTA ({len(sequence)} residues)."
            findings.append(Finding("Violation", name, "cmvrr:aminoAcidPosition", message))
        elif residue is not None and sequence[place - 1] != str(residue):
            message = f"{name}: the reference FASTA has {sequence[place - 1]} at {gene} {place}, not {residue}."
            findings.append(Finding("Violation", name, "cmvrr:referenceResidue", message))
    return findings


__all__ = ["read_fasta", "reference_findings"]
