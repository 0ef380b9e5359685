"""Sequence files to one genotype test: the amino-acid changes in the six resistance genes, with
their fractions, and the codons read. The result is the genotype-test block of the JSON patient
record (patient.schema.json, genotype_tests[]), so a lab's file goes into the plan unchanged.

What was read: a FASTA record reads the reference bases it aligns to (not its Ns, not beyond its
ends); a VCF or VarScan table lists differences only, so it reads the codons of its calls, unless
the caller names the genes sequenced whole (``genes_read_whole``; the record's genes_tested). The
plan's "no known resistance" covers only codons read (queries/susceptibility.rq).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import MIN_FRACTION
from .changes import AminoAcidChange, Call, amino_acid_changes
from .fasta import SequenceInputError, fasta_calls
from .reference import RESISTANCE_GENES, merlin
from .vcf import is_varscan, varscan_calls, vcf_calls

MAX_SEQUENCE_BYTES = 256 * 1024 * 1024  # a whole-genome VCF with every position is far smaller
FASTA_SUFFIXES = (".fa", ".fasta", ".fas", ".fna", ".fsa", ".seq", ".txt")
VCF_SUFFIXES = (".vcf", ".vcf.gz", ".bcf")


@dataclass
class Genotype:
    changes: list[AminoAcidChange] = field(default_factory=list)
    below: list[AminoAcidChange] = field(default_factory=list)  # calls under the threshold: named, not used
    stated: set[str] = field(default_factory=set)  # genes read whole by the user's word, not the file's
    read: dict[str, set[int]] = field(default_factory=dict)  # gene -> codons read (1-based)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mutations(self) -> list[AminoAcidChange]:
        return [change for change in self.changes if not change.synonymous]

    @property
    def synonymous(self) -> list[AminoAcidChange]:
        return [change for change in self.changes if change.synonymous]

    def coverage(self) -> dict[str, str]:
        """Per gene read in part, its codons read as ranges ("405-607,650-707"); a gene read whole
        has none (the record's rule: a tested gene without coverage was read whole)."""
        return {gene: _ranges(self.read[gene]) for gene in self.partly_read()}

    def partly_read(self) -> list[str]:
        genes = merlin().genes
        return [gene for gene, codons in sorted(self.read.items()) if codons and len(codons) < len(genes[gene].protein)]


def _ranges(numbers: Iterable[int]) -> str:
    ordered = sorted(numbers)
    runs: list[list[int]] = []
    for number in ordered:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(f"{low}-{high}" for low, high in runs)


def sequence_kind(path: Path) -> str:
    """ "fasta", "vcf" or "varscan", by the file's suffix, else by its first line."""
    name = path.name.lower()
    if name.endswith(VCF_SUFFIXES):
        return "vcf"
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith(b"##fileformat=VCF") or head[:2] == b"\x1f\x8b":
        return "vcf"
    if is_varscan(head.decode("latin-1")):
        return "varscan"
    if head.startswith((b">", b";")):
        return "fasta"
    if name.endswith(FASTA_SUFFIXES):
        return "fasta"
    raise SequenceInputError(f"{path}: not FASTA, VCF or a VarScan table (it opens with {head[:20]!r})")


def _checked(path: Path) -> Path:
    try:
        facts = path.stat()
    except OSError as error:
        raise SequenceInputError(f"{path}: cannot be read ({error.strerror})") from error
    if not stat.S_ISREG(facts.st_mode):
        raise SequenceInputError(f"{path}: not a regular file (a device, FIFO or folder is not read)")
    if facts.st_size > MAX_SEQUENCE_BYTES:
        raise SequenceInputError(f"{path}: larger than {MAX_SEQUENCE_BYTES // 2**20} MiB")
    if facts.st_size == 0:
        raise SequenceInputError(f"{path}: empty")
    return path


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        where = f"byte 0x{error.object[error.start]:02x} at offset {error.start}"
        raise SequenceInputError(f"{path}: not text ({where})") from error


def genotype_files(
    paths: Sequence[Path],
    sample: str | None = None,
    min_fraction: float = MIN_FRACTION,
    genes_read_whole: Iterable[str] = (),
) -> Genotype:
    """One genotype test from lab files (FASTA, VCF, VarScan); calls below ``min_fraction``
    percent are named in ``below`` and not used (a call of unknown fraction is kept)."""
    reference = merlin()
    genotype = Genotype()
    whole = {gene.strip().upper() for gene in genes_read_whole}
    unknown = sorted(whole - set(RESISTANCE_GENES))
    if unknown:
        raise SequenceInputError(f"genes read whole: {', '.join(unknown)} is not one of {', '.join(RESISTANCE_GENES)}")
    for gene in whole:
        genotype.read[gene] = set(range(1, len(reference.genes[gene].protein) + 1))
    genotype.stated = whole
    calls: list[Call] = []
    for path in map(_checked, paths):
        genotype.sources.append(str(path))
        kind = sequence_kind(path)
        if kind == "fasta":
            for placement in fasta_calls(path, _text(path)):
                calls.extend(placement.calls)
                _add_read(genotype, placement.read)
            continue
        variants = vcf_calls(path, sample) if kind == "vcf" else varscan_calls(path, _text(path))
        if variants.filtered:
            genotype.notes.append(f"{path}: {variants.filtered} record(s) in the genes failed a filter; left out")
        genotype.notes.extend(variants.warnings)
        if variants.outside:
            genotype.notes.append(f"{path}: {variants.outside} record(s) outside the six genes' coding sequences")
        calls.extend(variants.calls)
        if not whole:  # a variant file reads, for sure, only the codons of its calls
            _add_called(genotype, {p for call in variants.calls for e in call.edits for p in _edit_span(e)})
    dropped = [call for call in calls if call.fraction is not None and call.fraction < min_fraction]
    kept = [call for call in calls if call not in dropped]
    genotype.changes = _distinct([change for call in kept for change in amino_acid_changes(reference, call)])
    below = _distinct([change for call in dropped for change in amino_acid_changes(reference, call)])
    genotype.below = [change for change in below if not change.synonymous]
    if dropped:
        named = f": {', '.join(map(_with_fraction, genotype.below))}" if genotype.below else ""
        genotype.notes.append(f"{len(dropped)} call(s) below the {min_fraction:g}% threshold not used{named}")
    return genotype


def _with_fraction(change: AminoAcidChange) -> str:
    return f"{change.notation} {change.fraction:g}%" if change.fraction is not None else change.notation


def _edit_span(edit: Any) -> range:
    return range(edit.position - (0 if edit.ref else 1), edit.position + max(len(edit.ref), 1))


def _add_read(genotype: Genotype, positions: set[int]) -> None:
    for gene in merlin().genes.values():
        at = gene.positions
        codons = {c + 1 for c in range(len(gene.protein)) if {at[3 * c], at[3 * c + 1], at[3 * c + 2]} <= positions}
        if codons:
            genotype.read.setdefault(gene.name, set()).update(codons)


def _add_called(genotype: Genotype, positions: set[int]) -> None:
    """The codons a variant file's calls touch (a call at one base of a codon reads that codon)."""
    for gene in merlin().genes.values():
        codons = {gene.index[p] // 3 + 1 for p in positions if p in gene.index}
        if codons:
            genotype.read.setdefault(gene.name, set()).update(c for c in codons if c <= len(gene.protein))


def _distinct(changes: list[AminoAcidChange]) -> list[AminoAcidChange]:
    """One entry per change: a mixture's call repeats the record's other edits, which are no
    mixture; a change seen in two files or records keeps its highest fraction and both sources."""
    clear = {change.notation for change in changes if not change.mixture}
    kept: dict[str, AminoAcidChange] = {}
    for change in changes:
        if change.mixture and change.notation in clear:
            continue
        seen = kept.get(change.notation)
        if seen is None:
            kept[change.notation] = change
            continue
        fractions = [f for f in (seen.fraction, change.fraction) if f is not None]
        sources = tuple(dict.fromkeys(seen.sources + change.sources))
        kept[change.notation] = replace(seen, fraction=max(fractions) if fractions else None, sources=sources,
                                        mixture=seen.mixture and change.mixture)  # fmt: skip
    gene_order = {gene: number for number, gene in enumerate(RESISTANCE_GENES)}
    return sorted(kept.values(), key=lambda c: (gene_order[c.gene], c.position, c.notation))


def genotype_block(genotype: Genotype, **test: Any) -> dict[str, Any]:
    """The genotype-test block of the patient record; ``test`` adds date, specimen and the like."""
    block: dict[str, Any] = {key: value for key, value in test.items() if value is not None}
    block["genes_tested"] = sorted(genotype.read)
    block["coverage"] = genotype.coverage()
    block["mutations"] = [_mutation_entry(change) for change in genotype.mutations]
    if genotype.synonymous:
        block["synonymous"] = [f"{c.notation} ({c.nucleotide_change})" for c in genotype.synonymous]
    if genotype.below:
        block["below_threshold"] = [f"{_with_fraction(c)} ({', '.join(c.sources)})" for c in genotype.below]
    block["source_files"] = genotype.sources
    return block


def _mutation_entry(change: AminoAcidChange) -> dict[str, Any]:
    entry: dict[str, Any] = {"mutation": change.notation}
    if change.fraction is not None:
        entry["variant_fraction"] = change.fraction
    if change.depth is not None:
        entry["read_depth"] = change.depth
    entry["consequence"] = change.consequence
    entry["nucleotide_change"] = change.nucleotide_change
    if change.codon_change:
        entry["codon_change"] = change.codon_change
    if change.mixture:
        entry["mixture"] = True
    entry["source"] = ", ".join(change.sources)
    return entry


def genotype_text(genotype: Genotype) -> str:
    genes = merlin().genes
    lines = [f"Genotype from {', '.join(genotype.sources)} (reference NC_006273.2, HCMV Merlin)", ""]
    lines.append("Read:")
    for gene in RESISTANCE_GENES:
        codons = genotype.read.get(gene, set())
        length = len(genes[gene].protein)
        state = "not read" if not codons else "whole gene" if len(codons) == length else "partly"
        state += " (stated by --genes, not verified from the file)" if gene in genotype.stated else ""
        ranges = f" (codons {_ranges(codons)} of {length})" if codons and len(codons) < length else ""
        lines.append(f"  {gene:<5} {state}{ranges}")
    lines += ["", "Amino-acid changes:" if genotype.mutations else "Amino-acid changes: none"]
    for change in genotype.mutations:
        fraction = f"{change.fraction:g}%" if change.fraction is not None else "mixture" if change.mixture else "-"
        depth = f"depth {change.depth}" if change.depth is not None else ""
        codon = f" {change.codon_change}" if change.codon_change else ""
        lines.append(f"  {change.notation:<22} {change.consequence:<20} {fraction:>8}  {depth:<12} "
                     f"{change.nucleotide_change}{codon}  [{', '.join(change.sources)}]")  # fmt: skip
    if genotype.synonymous:
        lines.append(f"Synonymous (no amino-acid change): {', '.join(c.notation for c in genotype.synonymous)}")
    lines += [f"Note: {note}" for note in genotype.notes]
    return "\n".join(lines)


__all__ = [
    "MIN_FRACTION",
    "Genotype",
    "SequenceInputError",
    "genotype_block",
    "genotype_files",
    "genotype_text",
    "sequence_kind",
]
