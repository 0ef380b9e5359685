"""From changes of the genome to changes of the proteins: the one place that translates.

An Edit is a change of NC_006273.2 written as VCF writes it, on the forward strand, with the
shared anchor bases trimmed. A Call is what one input says about one molecule: a FASTA record's
consensus, or one VCF allele (its edits, its variant fraction, its read depth). Each call is
translated on the reference background of each gene it touches; edits within a codon's reach of
each other are translated together, because one read saw them together (two substitutions in one
codon make one amino acid). Notation as the package writes it (patients/mutations.py): UL97:C592G,
UL97:C415*, UL97:del591-594, UL97:A594_595insG, UL97:C592fs; synonymous changes as UL97:C592=.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .reference import CODE, Gene, Reference, reverse_complement, translate

IUPAC_BASES = {"R": "AG", "Y": "CT", "K": "GT", "M": "AC", "S": "CG", "W": "AT",
               "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG"}  # fmt: skip


@dataclass(frozen=True, order=True)
class Edit:
    """``ref`` replaced by ``alt`` from genome ``position`` (1-based); an insertion has ``ref`` ""
    and goes before ``position``."""

    position: int
    ref: str
    alt: str


def trimmed(position: int, ref: str, alt: str) -> Edit:
    """The edit without the bases REF and ALT share (VCF's anchor base, a caller's context)."""
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        ref, alt, position = ref[1:], alt[1:], position + 1
    return Edit(position, ref, alt)


@dataclass(frozen=True)
class Call:
    """One molecule's edits as one input saw them."""

    edits: tuple[Edit, ...]
    source: str  # file:line, or file>record
    fraction: float | None = None  # percent of reads, where the input gives it
    depth: int | None = None
    mixture: str = ""  # the IUPAC code read ("K"): a minority variant of unknown fraction


@dataclass(frozen=True)
class AminoAcidChange:
    gene: str
    position: int  # the first residue changed (1-based)
    notation: str  # GENE:C592G
    consequence: str  # missense, synonymous, stop, in-frame deletion, in-frame insertion, frameshift, ...
    nucleotide_change: str  # on NC_006273.2, g.142573T>G
    codon_change: str = ""  # TGC>GGC, for a change within one codon
    fraction: float | None = None
    depth: int | None = None
    mixture: bool = False
    sources: tuple[str, ...] = field(default=())

    @property
    def synonymous(self) -> bool:
        return self.consequence == "synonymous"


CONSEQUENCES = ("missense", "synonymous", "stop", "in-frame deletion", "in-frame insertion",
                "in-frame deletion-insertion", "frameshift")  # fmt: skip


@dataclass(frozen=True)
class _CodingEdit:
    start: int  # 0-based index in the coding sequence
    ref: str  # coding strand
    alt: str
    edit: Edit


def _coding_edit(gene: Gene, edit: Edit) -> _CodingEdit | None:
    """The edit on the gene's coding strand, or None when it does not touch the coding sequence.
    An edit across an exon boundary or the ends of the coding sequence is not translated."""
    index = gene.index
    if edit.ref:
        indices = [index.get(p) for p in range(edit.position, edit.position + len(edit.ref))]
        if all(i is None for i in indices) or None in indices:
            return None
        known = [i for i in indices if i is not None]
        if max(known) - min(known) != len(known) - 1:
            return None
        start = min(known)
    else:  # an insertion between position - 1 and position: both coding, adjacent
        before, after = index.get(edit.position - 1), index.get(edit.position)
        if before is None or after is None or abs(before - after) != 1:
            return None
        start = max(before, after)
    if gene.strand == "+":
        return _CodingEdit(start, edit.ref, edit.alt, edit)
    return _CodingEdit(start, reverse_complement(edit.ref), reverse_complement(edit.alt), edit)


def _clusters(edits: list[_CodingEdit]) -> Iterator[list[_CodingEdit]]:
    """Edits whose codons touch, together (read on one molecule, translated as one)."""
    group: list[_CodingEdit] = []
    reach = -1
    for edit in sorted(edits, key=lambda e: e.start):
        if group and edit.start // 3 > reach:
            yield group
            group = []
        group.append(edit)
        reach = max(reach, (edit.start + max(len(edit.ref), 1) - 1) // 3)
    if group:
        yield group


def nucleotide_text(edits: Iterable[Edit]) -> str:
    """HGVS-like genomic description on NC_006273.2 (g.), several edits joined by ';'."""
    parts = []
    for edit in edits:
        end = edit.position + len(edit.ref) - 1
        span = f"{edit.position}" if end == edit.position else f"{edit.position}_{end}"
        if not edit.ref:
            parts.append(f"g.{edit.position - 1}_{edit.position}ins{edit.alt}")
        elif not edit.alt:
            parts.append(f"g.{span}del")
        elif len(edit.ref) == len(edit.alt) == 1:
            parts.append(f"g.{edit.position}{edit.ref}>{edit.alt}")
        else:
            parts.append(f"g.{span}delins{edit.alt}")
    return ";".join(parts)


def _translate_cluster(gene: Gene, group: list[_CodingEdit]) -> Iterator[tuple[int, str, str, str, str]]:
    """(position, notation after the gene, consequence, codon change, ref residue) per change."""
    coding, protein = gene.coding, gene.protein + "*"
    first = group[0].start // 3
    end = max(e.start + len(e.ref) for e in group)
    last = max(first + 1, -(-end // 3))  # exclusive codon bound
    base = 3 * first
    mutated = coding[base : 3 * last]
    for edit in sorted(group, key=lambda e: e.start, reverse=True):
        offset = edit.start - base
        mutated = mutated[:offset] + edit.alt + mutated[offset + len(edit.ref) :]
    reference = coding[base : 3 * last]
    shift = len(mutated) - len(reference)
    if shift % 3:
        tail = translate(mutated + coding[3 * last :])
        k = next((i for i, (a, b) in enumerate(zip(protein[first:], tail, strict=False)) if a != b), 0)
        position = first + k + 1
        if k < len(tail) and tail[k] == "*":
            yield position, f"{protein[position - 1]}{position}*", "stop", "", protein[position - 1]
        else:
            yield position, f"{protein[position - 1]}{position}fs", "frameshift", "", protein[position - 1]
        return
    if not shift:
        for codon in range(first, last):
            old, new = reference[3 * (codon - first) : 3 * (codon - first) + 3], mutated[3 * (codon - first) :][:3]
            if old == new or codon >= len(gene.protein):  # the stop codon itself is no residue
                continue
            was, now = CODE[old], CODE.get(new, "X")
            position = codon + 1
            consequence = "synonymous" if was == now else "stop" if now == "*" else "missense"
            yield position, f"{was}{position}{'=' if was == now else now}", consequence, f"{old}>{new}", was
        return
    old, new = translate(reference), translate(mutated)
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    deleted, inserted = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    position = first + prefix + 1
    if "*" in inserted:  # a stop within the inserted residues ends the protein there
        at = position + inserted.index("*")
        yield at, f"{protein[at - 1]}{at}*", "stop", "", protein[at - 1]
    elif deleted and not inserted:
        stop = position + len(deleted) - 1
        yield position, f"del{position}" + (f"-{stop}" if stop > position else ""), "in-frame deletion", "", deleted
    elif inserted and not deleted:
        name = f"{protein[position - 2]}{position - 1}_{position}ins{inserted}"
        yield position - 1, name, "in-frame insertion", "", ""
    elif deleted:  # deletion-insertion: named by the deleted residues (the package's notation has no delins)
        stop = position + len(deleted) - 1
        name = f"del{position}" + (f"-{stop}" if stop > position else "")
        yield position, name, f"in-frame deletion-insertion (inserted {inserted})", "", deleted


def amino_acid_changes(reference: Reference, call: Call) -> list[AminoAcidChange]:
    """Every change ``call`` makes to the six resistance proteins, synonymous ones included."""
    changes = []
    for gene in reference.genes.values():
        low, high = gene.span
        touching = [e for e in call.edits if e.position <= high + 1 and e.position + len(e.ref) >= low]
        coding = [c for c in (_coding_edit(gene, e) for e in touching) if c is not None]
        for group in _clusters(coding):
            nucleotides = nucleotide_text(sorted(e.edit for e in group))
            if call.mixture:  # the code and what it stands for: the reference base was read too
                nucleotides += f" (IUPAC {call.mixture}: {'/'.join(IUPAC_BASES[call.mixture])} read together)"
            for position, name, consequence, codon, _ in _translate_cluster(gene, group):
                notation = f"{gene.name}:{name}"
                found = (call.fraction, call.depth, bool(call.mixture), (call.source,))
                changes.append(AminoAcidChange(gene.name, position, notation, consequence, nucleotides, codon, *found))
    return changes


__all__ = [
    "CONSEQUENCES",
    "IUPAC_BASES",
    "AminoAcidChange",
    "Call",
    "Edit",
    "amino_acid_changes",
    "nucleotide_text",
    "trimmed",
]
