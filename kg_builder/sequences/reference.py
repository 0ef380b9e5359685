"""The Merlin reference (NC_006273.2) the package ships, and the six resistance genes' coding
sequences on it.

``cmvrr import-reference DIR`` copies the genome and derives the coding-sequence table from the
RefSeq annotation (a folder holding NC_006273.2.fasta and .gff3, as HerpesDRG distributes them);
the tests derive it again from ../shared/reference and compare. UL89 is spliced: its two CDS parts
are joined in coding order, so codon numbers run across the intron.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from ..errors import CmvrrError
from ..paths import SOURCES_DIR

ACCESSION = "NC_006273.2"
GENOME = SOURCES_DIR / f"{ACCESSION}.fasta"
CDS_TABLE = SOURCES_DIR / f"{ACCESSION}-cds.tsv"
PROVENANCE = SOURCES_DIR / f"{ACCESSION}.json"
RESISTANCE_GENES = ("UL27", "UL51", "UL54", "UL56", "UL89", "UL97")  # the genes of Table 5
CDS_COLUMNS = ("gene", "strand", "cds_parts", "protein_length", "refseq_protein")

# The standard genetic code, codons in TCAG order (NCBI translation table 1).
_BASES = "TCAG"
_AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODE = {a + b + c: _AMINO_ACIDS[16 * i + 4 * j + k] for i, a in enumerate(_BASES) for j, b in enumerate(_BASES)
        for k, c in enumerate(_BASES)}  # fmt: skip
_COMPLEMENT = str.maketrans("ACGTRYKMSWBDHVN", "TGCAYRMKSWVHDBN")


def reverse_complement(sequence: str) -> str:
    """The other strand, 5' to 3'; IUPAC ambiguity codes complemented too (R <-> Y, ...)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def translate(coding: str) -> str:
    """Codon by codon; a codon with anything but A, C, G, T (a gap, N, a mixture) reads as X."""
    return "".join(CODE.get(coding[start : start + 3], "X") for start in range(0, len(coding) - 2, 3))


@dataclass(frozen=True)
class Gene:
    """One resistance gene: its coding sequence and where each of its bases lies on the genome."""

    name: str
    strand: str  # "+" or "-"
    parts: tuple[tuple[int, int], ...]  # 1-based inclusive genome ranges, in coding order
    coding: str  # 5' to 3' of the gene, the stop codon included

    @cached_property
    def positions(self) -> tuple[int, ...]:
        """The genome position (1-based) of each coding base, in coding order."""
        if self.strand == "+":
            return tuple(p for start, end in self.parts for p in range(start, end + 1))
        return tuple(p for start, end in self.parts for p in range(end, start - 1, -1))

    @cached_property
    def index(self) -> dict[int, int]:
        """Genome position -> 0-based index in the coding sequence."""
        return {position: i for i, position in enumerate(self.positions)}

    @cached_property
    def protein(self) -> str:
        return translate(self.coding).rstrip("*")

    @property
    def span(self) -> tuple[int, int]:
        return min(self.positions), max(self.positions)


@dataclass(frozen=True)
class Reference:
    accession: str
    genome: str
    genes: dict[str, Gene]


def read_fasta_sequence(path: Path) -> tuple[str, str]:
    """The one record of a reference FASTA file: (its name, its sequence in capitals)."""
    name, lines = "", []
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith(">"):
            if name:
                raise CmvrrError(f"{path}: more than one sequence; the reference is one genome")
            name = line[1:].split()[0]
        else:
            lines.append(line.strip())
    return name, "".join(lines).upper()


@cache
def merlin() -> Reference:
    """The packaged reference, read once per process."""
    name, genome = read_fasta_sequence(GENOME)
    genes = {}
    with CDS_TABLE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            parts = tuple(tuple(map(int, part.split("-"))) for part in row["cds_parts"].split(","))
            genes[row["gene"]] = _gene(genome, row["gene"], row["strand"], parts)  # type: ignore[arg-type]
    return Reference(name, genome, genes)


def _gene(genome: str, name: str, strand: str, parts: tuple[tuple[int, int], ...]) -> Gene:
    forward = "".join(genome[start - 1 : end] for start, end in parts)
    if strand == "-":  # parts in coding order: each part read on the other strand
        forward = "".join(reverse_complement(genome[start - 1 : end]) for start, end in parts)
    return Gene(name, strand, parts, forward)


def derive_cds_table(gff3: Path) -> list[dict[str, str]]:
    """The six resistance genes' CDS rows of a RefSeq GFF3 file, parts in coding order."""
    parts: dict[str, list[tuple[int, int]]] = {}
    facts: dict[str, dict[str, str]] = {}
    for line in gff3.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 9 or fields[2] != "CDS":
            continue
        attributes = dict(item.split("=", 1) for item in fields[8].split(";") if "=" in item)
        gene = attributes.get("gene", "")
        if gene in RESISTANCE_GENES:
            parts.setdefault(gene, []).append((int(fields[3]), int(fields[4])))
            facts[gene] = {"strand": fields[6], "refseq_protein": attributes.get("protein_id", attributes["Name"])}
    missing = sorted(set(RESISTANCE_GENES) - set(parts))
    if missing:
        raise CmvrrError(f"{gff3}: no CDS for {', '.join(missing)}")
    rows = []
    for gene in RESISTANCE_GENES:
        ordered = sorted(parts[gene], reverse=facts[gene]["strand"] == "-")  # coding order
        length = sum(end - start + 1 for start, end in ordered) // 3 - 1  # the stop codon is no residue
        rows.append({"gene": gene, "strand": facts[gene]["strand"], "protein_length": str(length),
                     "cds_parts": ",".join(f"{start}-{end}" for start, end in ordered),
                     "refseq_protein": facts[gene]["refseq_protein"]})  # fmt: skip
    return rows


def import_reference(folder: Path, out_dir: Path = SOURCES_DIR) -> list[Path]:
    """Copy the genome, derive the CDS table and write their provenance; all or none."""
    fasta, gff3 = folder / f"{ACCESSION}.fasta", folder / f"{ACCESSION}.gff3"
    for path in (fasta, gff3):
        if not path.is_file():
            raise CmvrrError(f"{path}: not found; give the folder holding {ACCESSION}.fasta and .gff3")
    name, _ = read_fasta_sequence(fasta)
    if name != ACCESSION:
        raise CmvrrError(f"{fasta}: the sequence is {name!r}, not {ACCESSION}")
    rows = derive_cds_table(gff3)
    provenance = {
        "accession": ACCESSION,
        "description": "Human betaherpesvirus 5 (HCMV) strain Merlin, complete genome (NCBI RefSeq)",
        "files": {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in (fasta, gff3)},
        "source": "https://github.com/ojcharles/herpesdrg (inst/ref/), MIT licence",
        "derived_by": "cmvrr import-reference",
    }
    names = (GENOME.name, CDS_TABLE.name, PROVENANCE.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".importing-") as staging:
        shutil.copyfile(fasta, Path(staging) / GENOME.name)
        with (Path(staging) / CDS_TABLE.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, CDS_COLUMNS, delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        (Path(staging) / PROVENANCE.name).write_text(json.dumps(provenance, indent=2) + "\n")
        for name in names:
            shutil.move(str(Path(staging) / name), out_dir / name)
    return [out_dir / name for name in names]


__all__ = [
    "ACCESSION",
    "CODE",
    "GENOME",
    "RESISTANCE_GENES",
    "Gene",
    "Reference",
    "derive_cds_table",
    "import_reference",
    "merlin",
    "reverse_complement",
    "translate",
]
