"""Variant calls against NC_006273.2: VCF 4.0-4.2 read with pysam (htslib), and VarScan2 tables.

The allele fraction comes from what the caller wrote, read counts first because a genotype-based
AF (GATK, FreeBayes) is no fraction of reads: FORMAT/INFO AD (with DP or the sum of AD), FreeBayes
AO/RO, VarScan FREQ ("33.3%"), then AF (LoFreq, iVar). Each ALT of a multi-allelic site is its
own call; indels and MNPs are trimmed of their anchor base. Phase is unknown in a VCF, so each
allele is translated on the reference background. Records that failed a filter (FILTER not PASS
or .) are left out and counted. A REF that disagrees with the reference is an error: the file was
called against another genome.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .changes import Call, trimmed
from .fasta import SequenceInputError
from .reference import ACCESSION, Reference, merlin

CONTIGS = (ACCESSION, ACCESSION.split(".")[0])  # NC_006273.2, or the accession without its version
_BASES = re.compile(r"^[ACGTN]+$")


@dataclass
class VariantCalls:
    calls: list[Call] = field(default_factory=list)
    filtered: int = 0  # records that failed a filter
    outside: int = 0  # records outside the six genes' coding sequences
    warnings: list[str] = field(default_factory=list)


@cache
def _spans() -> tuple[tuple[int, int], ...]:
    """The six genes' coding parts on the genome, made once (every record of a VCF is checked)."""
    return tuple(part for gene in merlin().genes.values() for part in gene.parts)


def _in_genes(position: int, length: int) -> bool:
    return any(low - 1 <= position + length and position <= high + 1 for low, high in _spans())


def _check_ref(path: Path, line: int, reference: Reference, position: int, ref: str) -> None:
    expected = reference.genome[position - 1 : position - 1 + len(ref)]
    if ref.upper() != expected:
        raise SequenceInputError(
            f"{path}:{line}: REF {ref!r} at {ACCESSION}:{position} disagrees with the reference ({expected!r}): "
            f"the file was called against another genome, or is not on {ACCESSION} coordinates"
        )


def _percent(value: float) -> float:
    return round(100 * value, 2)


def _fraction(values: dict[str, Any], allele: int) -> tuple[float | None, int | None]:
    """(percent of reads, depth) for ALT number ``allele`` (1-based) from a sample's or INFO's fields."""
    depth = values.get("DP")
    depth = depth if isinstance(depth, int) else None
    counts = values.get("AD")
    if isinstance(counts, tuple) and len(counts) > allele and all(isinstance(c, int) for c in counts):
        total = depth or sum(counts)
        return (_percent(counts[allele] / total) if total else None), depth or total
    observed, reference_count = values.get("AO"), values.get("RO")
    if observed is not None and isinstance(reference_count, int):
        observed = observed if isinstance(observed, tuple) else (observed,)
        total = reference_count + sum(o for o in observed if isinstance(o, int))
        if len(observed) >= allele and total:
            return _percent(observed[allele - 1] / total), depth or total
    frequency = values.get("FREQ")
    if frequency is not None:
        text = frequency[allele - 1] if isinstance(frequency, tuple) else frequency
        try:
            return float(str(text).rstrip("%")), depth
        except ValueError:
            pass
    af = values.get("AF")
    if af is not None:
        af = af if isinstance(af, tuple) else (af,)
        if len(af) >= allele and isinstance(af[allele - 1], float):
            return _percent(af[allele - 1]), depth
    return None, depth


def _header_lines(path: Path) -> int:
    """The file's own header lines (htslib adds lines of its own to the header it keeps)."""
    import gzip

    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    count = 0
    with (gzip.open(path, "rb") if compressed else path.open("rb")) as handle:  # bgzip is gzip
        for line in handle:
            if not line.startswith(b"#"):
                break
            count += 1
    return count


def vcf_calls(path: Path, sample: str | None = None) -> VariantCalls:
    import pysam

    reference = merlin()
    pysam.set_verbosity(0)  # htslib's own warnings would reach the terminal; the errors below say it
    try:
        vcf = pysam.VariantFile(str(path))
    except (ValueError, OSError) as error:
        raise SequenceInputError(f"{path}: not a VCF file ({str(error).split(' - ')[-1]})") from error
    with vcf:
        header_lines = _header_lines(path)
        contigs = [str(name) for name in vcf.header.contigs]
        if contigs and not set(contigs) & set(CONTIGS):
            raise SequenceInputError(
                f"{path}: the VCF's contigs are {', '.join(contigs[:5])}, not {ACCESSION} (HCMV Merlin): "
                "call variants against NC_006273.2"
            )
        samples = list(vcf.header.samples)
        if sample is not None and sample not in samples:
            raise SequenceInputError(f"{path}: no sample {sample!r}; the samples are {', '.join(samples) or 'none'}")
        if sample is None and len(samples) > 1:
            listed = ", ".join(samples[:5])
            raise SequenceInputError(f"{path}: {len(samples)} samples ({listed}): choose one with --sample")
        chosen = sample or (samples[0] if samples else None)
        result = VariantCalls()
        line = header_lines
        records = iter(vcf)
        while True:
            line += 1
            try:
                record = next(records)
            except StopIteration:
                break
            except (ValueError, OSError) as error:
                raise SequenceInputError(f"{path}:{line}: not a valid VCF record ({error})") from error
            if record.chrom not in CONTIGS:
                raise SequenceInputError(f"{path}:{line}: contig {record.chrom!r} is not {ACCESSION}")
            _add_record(path, line, reference, record, chosen, result)
    return result


def _add_record(path: Path, line: int, reference: Reference, record: Any, sample: str | None,
                result: VariantCalls) -> None:  # fmt: skip
    ref = record.ref or ""
    if not _in_genes(record.pos, len(ref)):
        result.outside += 1
        return
    if not _BASES.match(ref.upper()):
        raise SequenceInputError(f"{path}:{line}: REF {ref!r} is not a sequence of A, C, G, T")
    _check_ref(path, line, reference, record.pos, ref)
    filters = list(record.filter.keys())
    if filters and filters != ["PASS"]:
        result.filtered += 1
        return
    values: dict[str, Any] = dict(record.info.items())
    if sample is not None:
        values.update((key, value) for key, value in record.samples[sample].items() if value is not None)
    for number, alt in enumerate(record.alts or (), start=1):
        if not _BASES.match(alt.upper()):  # <DEL>, *, a breakend: no sequence to translate
            result.warnings.append(f"{path}:{line}: ALT {alt!r} is not a sequence; not translated")
            continue
        fraction, depth = _fraction(values, number)
        edit = trimmed(record.pos, ref.upper(), alt.upper())
        result.calls.append(Call((edit,), f"{path}:{line}", fraction, depth))


VARSCAN_HEADER = ("Chrom", "Position", "Ref", "Var")


def is_varscan(text: str) -> bool:
    return tuple(text.split("\n", 1)[0].rstrip("\r").split("\t")[:4]) == VARSCAN_HEADER


def varscan_calls(path: Path, text: str) -> VariantCalls:
    """A VarScan2 table (mpileup2snp/indel/cns): Var "+AT" inserts after Position, "-AT" deletes the
    bases after it; the fraction from VarFreq, or from the Cons:Cov:Reads1:Reads2:Freq column."""
    reference = merlin()
    result = VariantCalls()
    rows = csv.reader(text.splitlines(), delimiter="\t")
    header = next(rows)
    for line, row in enumerate(rows, start=2):
        if not any(row):
            continue
        fields = dict(zip(header, row, strict=False))
        try:
            chrom, position, ref, var = fields["Chrom"], int(fields["Position"]), fields["Ref"].upper(), fields["Var"]
        except (KeyError, ValueError) as error:
            raise SequenceInputError(f"{path}:{line}: not a VarScan row (Chrom, Position, Ref, Var)") from error
        if chrom not in CONTIGS:
            raise SequenceInputError(f"{path}:{line}: contig {chrom!r} is not {ACCESSION}")
        if not _in_genes(position, max(len(var), 1)):
            result.outside += 1
            continue
        _check_ref(path, line, reference, position, ref)
        fraction, depth = _varscan_fraction(fields, header, row)
        if var.startswith("+"):
            edit = trimmed(position + 1, "", var[1:].upper())
        elif var.startswith("-"):
            deleted = var[1:].upper()
            _check_ref(path, line, reference, position + 1, deleted)
            edit = trimmed(position + 1, deleted, "")
        else:
            edit = trimmed(position, ref, var.upper())
        if not _BASES.match(edit.ref + edit.alt or "N"):
            raise SequenceInputError(f"{path}:{line}: Var {var!r} is not a sequence of A, C, G, T")
        result.calls.append(Call((edit,), f"{path}:{line}", fraction, depth))
    return result


def _varscan_fraction(fields: dict[str, str], header: list[str], row: list[str]) -> tuple[float | None, int | None]:
    def number(text: str | None) -> float | None:
        try:
            return float(str(text).rstrip("%"))
        except ValueError:
            return None

    if "VarFreq" in fields:
        reads = [number(fields.get(name)) for name in ("Reads1", "Reads2")]
        depth = int(sum(r for r in reads if r is not None)) or None
        return number(fields["VarFreq"]), depth
    if len(row) > 4 and header[4].startswith("Cons:Cov:Reads1:Reads2:Freq"):
        parts = row[4].split(":")
        if len(parts) >= 5:
            coverage = number(parts[1])
            return number(parts[4]), int(coverage) if coverage is not None else None
    return None, None


__all__ = [
    "CONTIGS",
    "VariantCalls",
    "is_varscan",
    "varscan_calls",
    "vcf_calls",
]
