"""Lab files made from the reference itself, with chosen changes planted (no copied lab data):
FASTA amplicons and genomes, VCFs as FreeBayes, LoFreq, GATK-like (AD/DP) and VarScan write them.

``python tests/sequence_data.py`` rewrites the example files of ontology/examples/sequences/.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kg_builder.patients.mutations import MutationName, parse_mutation  # noqa: E402
from kg_builder.sequences.changes import Edit  # noqa: E402
from kg_builder.sequences.reference import CODE, Gene, merlin, reverse_complement  # noqa: E402

EXAMPLES = ROOT / "ontology" / "examples" / "sequences"


def gene(name: str) -> Gene:
    return merlin().genes[name]


def _forward(gene: Gene, index: int, coding: str) -> Edit:
    """A change of the coding strand from coding index ``index``, as a forward-strand edit."""
    positions = gene.positions
    if gene.strand == "+":
        return Edit(positions[index], "", coding)
    return Edit(positions[index] + 1, "", reverse_complement(coding))


def _substitution_edits(gene: Gene, codon: int, new_codon: str) -> list[Edit]:
    old = gene.coding[3 * (codon - 1) : 3 * codon]
    edits = []
    for offset in range(3):
        if old[offset] != new_codon[offset]:
            position = gene.positions[3 * (codon - 1) + offset]
            base, new = (old[offset], new_codon[offset])
            if gene.strand == "-":
                base, new = reverse_complement(base), reverse_complement(new)
            edits.append(Edit(position, base, new))
    return edits


def closest_codon(old: str, residue: str) -> str:
    """The codon for ``residue`` with the fewest changes from ``old`` (a stop for '*')."""
    codons = [codon for codon, amino in CODE.items() if amino == residue]
    return min(codons, key=lambda codon: (sum(a != b for a, b in zip(codon, old, strict=True)), codon))


def edits_for(mutation: MutationName) -> list[Edit]:
    """Forward-strand edits that make ``mutation`` (the reference residue must be Merlin's)."""
    g = gene(mutation.gene)
    start = 3 * (mutation.position - 1)
    if mutation.kind in ("substitution", "stop-gain"):
        new = closest_codon(g.coding[start : start + 3], mutation.alt)
        return _substitution_edits(g, mutation.position, new)
    if mutation.kind == "deletion":
        return [_deletion(g, start, 3 * (mutation.end - mutation.position + 1))]
    if mutation.kind == "insertion":  # after codon ``position``
        inserted = "".join(closest_codon("AAA", residue) for residue in mutation.alt)
        return [_insertion(g, start + 3, inserted)]
    for offset in range(3):  # frameshift: a one-base deletion that changes this very residue
        edit = _deletion(g, start + offset, 1)
        shifted = g.coding[start : start + offset] + g.coding[start + offset + 1 : start + 4]
        if CODE.get(shifted) not in (g.protein[mutation.position - 1], "*"):
            return [edit]
    raise ValueError(f"no one-base deletion changes {mutation}")


def _deletion(g: Gene, index: int, length: int) -> Edit:
    positions = g.positions[index : index + length]
    low = min(positions)
    return Edit(low, merlin().genome[low - 1 : low - 1 + length], "")


def _insertion(g: Gene, index: int, coding: str) -> Edit:
    """``coding`` inserted before coding index ``index``."""
    if g.strand == "+":
        return Edit(g.positions[index], "", coding)
    return Edit(g.positions[index - 1], "", reverse_complement(coding))


def apply(sequence: str, start: int, edits: list[Edit]) -> str:
    """``sequence`` (genome from 1-based ``start``) with the edits applied."""
    for edit in sorted(edits, reverse=True):
        offset = edit.position - start
        sequence = sequence[:offset] + edit.alt + sequence[offset + len(edit.ref) :]
    return sequence


def region(gene_name: str, first_codon: int = 1, last_codon: int | None = None, flank: int = 40) -> tuple[int, int]:
    """Genome span (1-based, inclusive) of the codons, with ``flank`` bases either side."""
    g = gene(gene_name)
    last_codon = last_codon or len(g.protein) + 1
    positions = g.positions[3 * (first_codon - 1) : 3 * last_codon]
    return min(positions) - flank, max(positions) + flank


def amplicon(gene_name: str, edits: list[Edit], first: int = 1, last: int | None = None, reverse: bool = False,
             flank: int = 40) -> str:  # fmt: skip
    """The reference between the codons (either strand), with the edits inside it applied."""
    low, high = region(gene_name, first, last, flank)
    if gene(gene_name).parts[1:]:  # spliced (UL89): the whole span, intron included
        spans = [p for part in gene(gene_name).parts for p in part]
        low, high = (min(low, *spans), max(high, *spans)) if first == 1 and last is None else (low, high)
    inside = [e for e in edits if low <= e.position <= high]
    sequence = apply(merlin().genome[low - 1 : high], low, inside)
    return reverse_complement(sequence) if reverse else sequence


def fasta(records: dict[str, str]) -> str:
    return "".join(f">{name}\n" + "\n".join(seq[i : i + 70] for i in range(0, len(seq), 70)) + "\n"
                   for name, seq in records.items())  # fmt: skip


def genome_with(edits: list[Edit]) -> str:
    return apply(merlin().genome, 1, edits)


@dataclass(frozen=True)
class Variant:
    edit: Edit
    fraction: float  # percent
    depth: int = 400


def _vcf_alleles(edit: Edit) -> tuple[int, str, str]:
    """VCF POS, REF, ALT: indels carry the base before them."""
    if edit.ref and edit.alt and len(edit.ref) == len(edit.alt):
        return edit.position, edit.ref, edit.alt
    anchor = merlin().genome[edit.position - 2]
    return edit.position - 1, anchor + edit.ref, anchor + edit.alt


VCF_HEADERS = {
    "freebayes": ['##INFO=<ID=AF,Number=A,Type=Float,Description="Estimated allele frequency">',
                  '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total read depth">'],
    "lofreq": ['##INFO=<ID=DP,Number=1,Type=Integer,Description="Raw Depth">',
               '##INFO=<ID=AF,Number=1,Type=Float,Description="Allele Frequency">'],
    "varscan": ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
                '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Quality Read Depth">',
                '##FORMAT=<ID=FREQ,Number=1,Type=String,Description="Variant allele frequency">'],
    "ad-dp": ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
              '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">'],
}  # fmt: skip


def vcf(variants: list[Variant], style: str, version: str = "4.2", contig: str = "NC_006273.2",
        noise: int = 0) -> str:  # fmt: skip
    """A VCF as the caller ``style`` writes it; ``noise``: that many extra records outside the genes."""
    sample = style in ("varscan", "ad-dp")
    lines = [f"##fileformat=VCFv{version}", f"##contig=<ID={contig},length=235646>", *VCF_HEADERS[style]]
    lines.append("#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
                                 + (["FORMAT", "sample1"] if sample else [])))  # fmt: skip
    rows = []
    for variant in variants:
        position, ref, alt = _vcf_alleles(variant.edit)
        rows.append((position, ref, alt, variant))
    rows += _noise_rows(noise)
    for position, ref, alt, variant in sorted(rows, key=lambda row: row[0]):
        reads = round(variant.depth * variant.fraction / 100)
        info = {"freebayes": f"AF={variant.fraction / 100:.4f};DP={variant.depth}",
                "lofreq": f"DP={variant.depth};AF={variant.fraction / 100:.4f}"}.get(style, ".")  # fmt: skip
        fields = [contig, str(position), ".", ref, alt, "60", "PASS", info]
        if style == "varscan":
            fields += ["GT:DP:FREQ", f"0/1:{variant.depth}:{variant.fraction:g}%"]
        elif style == "ad-dp":
            fields += ["GT:AD:DP", f"0/1:{variant.depth - reads},{reads}:{variant.depth}"]
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def _noise_rows(count: int) -> list[tuple[int, str, str, Variant]]:
    """Substitutions spread over the genome away from the six genes (a whole-genome VCF's bulk)."""
    spans = [part for g in merlin().genes.values() for part in g.parts]
    genome = merlin().genome
    rows = []
    away = (p for p in range(1000, len(genome), 2) if not any(low - 400 <= p <= high + 400 for low, high in spans))
    for position in itertools.islice(away, count):
        ref = genome[position - 1]
        alt = "A" if ref != "A" else "G"
        rows.append((position, ref, alt, Variant(Edit(position, ref, alt), 50.0)))
    return rows


def varscan_table(variants: list[Variant]) -> str:
    """VarScan2 mpileup2cns output: indels as +INS / -DEL after Position."""
    header = ["Chrom", "Position", "Ref", "Var", "Cons:Cov:Reads1:Reads2:Freq:P-value",
              "StrandFilter:R1+:R1-:R2+:R2-:pval", "SamplesRef", "SamplesHet", "SamplesHom", "SamplesNC",
              "Cons:Cov:Reads1:Reads2:Freq:P-value"]  # fmt: skip
    lines = ["\t".join(header)]
    genome = merlin().genome
    for variant in sorted(variants, key=lambda v: v.edit.position):
        edit = variant.edit
        if edit.ref and edit.alt:
            position, ref, var = edit.position, edit.ref, edit.alt
        else:
            position = edit.position - 1
            ref = genome[position - 1]
            var = f"+{edit.alt}" if edit.alt else f"-{edit.ref}"
        reads2 = round(variant.depth * variant.fraction / 100)
        cons = f"{var}:{variant.depth}:{variant.depth - reads2}:{reads2}:{variant.fraction:g}%:1E-10"
        lines.append("\t".join(["NC_006273.2", str(position), ref, var, cons, "Pass:1:1:1:1:1E0", "0", "1", "0",
                                "0", cons]))  # fmt: skip
    return "\n".join(lines) + "\n"


def planted(texts: list[str], gene_name: str | None = None) -> list[Edit]:
    return [edit for text in texts for edit in edits_for(parse_mutation(text, gene_name))]


def write_examples() -> None:
    """The example lab files of ontology/examples/sequences/ (CASE-MIXED's genotype, as a lab sends it)."""
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    edits = planted(["UL97:M460V", "UL54:A809V"])
    records = {
        "UL97 amplicon codons 400-680, forward": amplicon("UL97", edits, 400, 680),
        "UL54 amplicon codons 300-1000, reverse complement": amplicon("UL54", edits, 300, 1000, reverse=True),
    }
    (EXAMPLES / "ul97-ul54-amplicons.fasta").write_text(fasta(records))
    variants = [Variant(edits[0], 71.5, 850), Variant(planted(["UL54:A809V"])[0], 38.2, 620)]
    (EXAMPLES / "ngs-lofreq.vcf").write_text(vcf(variants, "lofreq", noise=20))
    (EXAMPLES / "varscan.tab").write_text(varscan_table([*variants, Variant(planted(["UL97:C592G"])[0], 3.1, 900)]))
    case = json.loads((ROOT / "ontology" / "examples" / "cases" / "mixed-ul97-ul54.json").read_text())
    case["id"] = "SEQ-MIXED"
    without = {**case, "genotype_tests": []}
    (EXAMPLES / "no-genotype.json").write_text(json.dumps(without, indent=2) + "\n")
    test = {key: value for key, value in case["genotype_tests"][0].items() if key not in ("genes_tested", "mutations")}
    named = {**case, "genotype_tests": [{**test, "sequence_files": ["ul97-ul54-amplicons.fasta"]}]}
    (EXAMPLES / "with-sequence-files.json").write_text(json.dumps(named, indent=2) + "\n")


if __name__ == "__main__":
    write_examples()
    print(f"wrote {', '.join(sorted(p.name for p in EXAMPLES.iterdir()))}")
