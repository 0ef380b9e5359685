"""FASTA as laboratories send it: Sanger amplicons or consensus sequences, partial or whole
genomes, either strand, IUPAC ambiguity codes for mixed positions, several records per file.

Each record is placed on the six genes' regions of NC_006273.2 by shared 15-mers (which also
tell its strand), then aligned to each region it reaches with parasail's semi-global alignment
(free end gaps: an amplicon covers part of a region, a genome more than it). The alignment gives
the edits (substitutions, deletions, insertions), the mixtures and the reference bases read; an N
or an end gap is not read, so a gene half covered is reported as such (docs/architecture.md,
Sequence input). The small reader here (rather than Biopython's) is what names the line of a
character that is no nucleotide.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import CmvrrError
from .changes import IUPAC_BASES as IUPAC
from .changes import Call, Edit
from .reference import RESISTANCE_GENES, merlin, reverse_complement

FLANK = 300  # bases either side of each coding part searched for a record's place (primers sit there)
K = 15  # seed length: unique within the six regions, and no record shorter than it is placed
MIN_SEEDS = 3  # seeds a record needs in a region to be aligned there
GAP_OPEN, GAP_EXTEND = 10, 1  # match +2, mismatch -3
MIN_IDENTITY = 0.8  # below this a placed record is reported as not aligning
_NUCLEOTIDES = re.compile(r"[^ACGTURYKMSWBDHVN]")
_GAPS = str.maketrans("", "", "-.* \t\r")  # an aligned FASTA's gaps, a trailing '*', stray spaces


class SequenceInputError(CmvrrError):
    """A sequence file that cannot be read, or a record that aligns nowhere (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Record:
    name: str
    line: int  # of its header
    sequence: str


def read_fasta(path: Path, text: str) -> list[Record]:
    records: list[Record] = []
    name, line, parts = "", 0, list[str]()
    for number, raw in enumerate(text.splitlines(), start=1):
        row = raw.strip()
        if not row or row.startswith(";"):
            continue
        if row.startswith(">"):
            if name or parts:
                records.append(_record(path, name, line, parts))
            name, line, parts = row[1:].strip() or f"record {len(records) + 1}", number, []
            continue
        if not name:
            raise SequenceInputError(f"{path}:{number}: not FASTA: a sequence file opens with a '>' header line")
        sequence = row.upper().translate(_GAPS)
        if bad := _NUCLEOTIDES.search(sequence):
            raise SequenceInputError(
                f"{path}:{number}: record {name!r}: {bad.group()!r} is no nucleotide or IUPAC ambiguity code"
            )
        parts.append(sequence.replace("U", "T"))
    if name:
        records.append(_record(path, name, line, parts))
    if not records:
        raise SequenceInputError(f"{path}: empty: no FASTA record")
    return records


def _record(path: Path, name: str, line: int, parts: list[str]) -> Record:
    sequence = "".join(parts)
    if len(sequence) < K:
        raise SequenceInputError(f"{path}:{line}: record {name!r}: {len(sequence)} bases, too short to place")
    return Record(name, line, sequence)


@dataclass(frozen=True)
class Region:
    gene: str
    start: int  # genome, 1-based, inclusive
    sequence: str


@cache
def _regions() -> tuple[tuple[Region, ...], dict[str, tuple[int, int]]]:
    """The six genes' regions (each coding part +- FLANK: UL89's intron is not aligned) and the
    15-mers found once in them all."""
    reference = merlin()
    regions = []
    for name in RESISTANCE_GENES:
        for low, high in sorted(reference.genes[name].parts):
            start = max(1, low - FLANK)
            regions.append(Region(name, start, reference.genome[start - 1 : high + FLANK]))
    seen: Counter[str] = Counter()
    where: dict[str, tuple[int, int]] = {}
    for number, region in enumerate(regions):
        for offset in range(len(region.sequence) - K + 1):
            kmer = region.sequence[offset : offset + K]
            seen[kmer] += 1
            where[kmer] = (number, offset)
    return tuple(regions), {kmer: place for kmer, place in where.items() if seen[kmer] == 1}


def _diagonals(sequence: str, seeds: dict[str, tuple[int, int]]) -> dict[int, list[int]]:
    """Per region, the offsets (query position - region position) of the seeds the sequence shares."""
    step = 1 if len(sequence) < 20_000 else 7  # a whole genome needs no seed at every base
    found: dict[int, list[int]] = {}
    for position in range(0, len(sequence) - K + 1, step):
        place = seeds.get(sequence[position : position + K])
        if place is not None:
            found.setdefault(place[0], []).append(position - place[1])
    return found


@dataclass(frozen=True)
class Placement:
    """What one record says: its calls and the genome positions it read, per region aligned."""

    calls: list[Call]
    read: set[int]
    reverse: bool


def place_record(path: Path, record: Record) -> Placement:
    regions, seeds = _regions()
    forward, backward = record.sequence, reverse_complement(record.sequence)
    hits = {False: _diagonals(forward, seeds), True: _diagonals(backward, seeds)}
    reverse = sum(map(len, hits[True].values())) > sum(map(len, hits[False].values()))
    sequence, found = (backward if reverse else forward), hits[reverse]
    placed = {number: offsets for number, offsets in found.items() if len(offsets) >= MIN_SEEDS}
    if not placed:
        raise SequenceInputError(
            f"{path}:{record.line}: record {record.name!r} aligns to none of the six resistance genes "
            f"({', '.join(RESISTANCE_GENES)}) of NC_006273.2, on either strand"
        )
    source = f"{path}:{record.line}"
    calls: list[Call] = []
    read: set[int] = set()
    for number, offsets in sorted(placed.items()):
        region = regions[number]
        diagonal = sorted(offsets)[len(offsets) // 2]
        low = max(0, diagonal - 200)
        segment = sequence[low : diagonal + len(region.sequence) + 200]
        edits, mixtures, region_read, identity = _align(segment, region)
        if identity < MIN_IDENTITY:
            raise SequenceInputError(
                f"{path}:{record.line}: record {record.name!r} does not align to {region.gene} "
                f"({identity:.0%} identity over the aligned part)"
            )
        read |= region_read
        calls.append(Call(tuple(edits), source))
        for edit, code in mixtures:
            for base in IUPAC[code]:
                if base != edit.ref:
                    calls.append(Call((*edits, Edit(edit.position, edit.ref, base)), source, mixture=code))
    return Placement(calls, read, reverse)


_ALPHABET = "ACGTRYKMSWBDHVN"


@cache
def _matrix() -> object:
    """+2 for a match, -3 for a mismatch; an N costs nothing against any base, and an ambiguity
    code +1 against a base it stands for: a run of Ns (an unread stretch) is aligned base for base
    and stays unread, never turned into a deletion beside an insertion (found by review: Ns over
    UL97 codons 590-600 came out as del590-600)."""
    import parasail

    matrix = parasail.matrix_create(_ALPHABET, 2, -3)
    stands_for = {**IUPAC, "N": "ACGT", **{base: base for base in "ACGT"}}
    for row, first in enumerate(_ALPHABET):
        for column, second in enumerate(_ALPHABET):
            if "N" in (first, second):
                matrix.set_value(row, column, 0)
            elif first != second and set(stands_for[first]) & set(stands_for[second]):
                matrix.set_value(row, column, 1)
    return matrix


def _align(query: str, region: Region) -> tuple[list[Edit], list[tuple[Edit, str]], set[int], float]:
    """Semi-global alignment of ``query`` on the region: its edits, its mixtures (a reference base
    and the IUPAC code read there), the genome positions read, the identity."""
    import parasail

    # A gap opens at 10, so that three substitutions side by side (one changed codon) are not
    # aligned as a deletion beside an insertion; a real indel has no such alternative.
    result = parasail.sg_trace_scan_16(query, region.sequence, GAP_OPEN, GAP_EXTEND, _matrix())
    if result.saturated:  # 16-bit scores overflow only for sequences far longer than a region
        result = parasail.sg_trace_scan_32(query, region.sequence, GAP_OPEN, GAP_EXTEND, _matrix())
    operations = re.findall(r"(\d+)([=XIDM])", result.cigar.decode.decode())
    q, r = result.cigar.beg_query, result.cigar.beg_ref
    # end gaps are free: the region before and after the record is not read, the record's overhang ignored
    while operations and operations[0][1] in "ID":
        count, kind = operations.pop(0)
        q, r = (q + int(count), r) if kind == "I" else (q, r + int(count))
    while operations and operations[-1][1] in "ID":
        operations.pop()
    edits: list[Edit] = []
    mixtures: list[tuple[Edit, str]] = []
    read: set[int] = set()
    same = aligned = 0
    for count_text, kind in operations:
        count = int(count_text)
        if kind == "I":
            inserted = query[q : q + count]
            if "N" not in inserted:
                edits.append(Edit(region.start + r, "", inserted))
            q += count
            continue
        if kind == "D":
            edits.append(Edit(region.start + r, region.sequence[r : r + count], ""))
            read.update(range(region.start + r, region.start + r + count))
            r += count
            continue
        for _ in range(count):
            base, reference = query[q], region.sequence[r]
            position = region.start + r
            aligned += base != "N"  # identity over the bases read
            if base == reference:
                same += 1
                read.add(position)
            elif base in IUPAC:
                read.add(position)
                mixtures.append((Edit(position, reference, reference), base))
            elif base != "N":
                read.add(position)
                edits.append(Edit(position, reference, base))
            q, r = q + 1, r + 1
    return _merged(edits), mixtures, read, same / max(aligned, 1)


def _merged(edits: list[Edit]) -> list[Edit]:
    """Adjacent edits as one (a substitution next to a deletion is one change of one read)."""
    merged: list[Edit] = []
    for edit in edits:
        last = merged[-1] if merged else None
        if last is not None and last.position + len(last.ref) == edit.position and last.ref and edit.ref:
            merged[-1] = Edit(last.position, last.ref + edit.ref, last.alt + edit.alt)
        else:
            merged.append(edit)
    return merged


def fasta_calls(path: Path, text: str) -> Iterator[Placement]:
    for record in read_fasta(path, text):
        yield place_record(path, record)


__all__ = [
    "IUPAC",
    "Placement",
    "Record",
    "SequenceInputError",
    "fasta_calls",
    "place_record",
    "read_fasta",
]
