"""Sequence input (issue 15): lab files made from the reference with chosen changes planted must
give back exactly those changes (with their fractions), nothing else but synonymous changes marked
so, the codons read, and the same plan as the hand-written record (docs/architecture.md, Sequence
input)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sequence_data import (
    Variant,
    amplicon,
    edits_for,
    fasta,
    gene,
    genome_with,
    planted,
    varscan_table,
    vcf,
)

from kg_builder.api import genotype, recommend
from kg_builder.commands.cli import main
from kg_builder.paths import EXAMPLES_DIR, TABLES_DIR
from kg_builder.patients.mutations import parse_mutation
from kg_builder.sequences.changes import Edit
from kg_builder.sequences.genotype import genotype_files
from kg_builder.sequences.reference import (
    CDS_TABLE,
    GENOME,
    RESISTANCE_GENES,
    derive_cds_table,
    merlin,
    reverse_complement,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"
SEQUENCES = EXAMPLES_DIR / "sequences"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _found(paths: list[Path], **options: object) -> dict[str, dict[str, object]]:
    block = genotype(paths, **options)  # type: ignore[arg-type]
    return {entry["mutation"]: entry for entry in block["mutations"]}


# --- the packaged reference ------------------------------------------------------------------


def test_packaged_genome_is_the_shared_reference() -> None:
    assert hashlib.sha256(GENOME.read_bytes()).digest() == hashlib.sha256(
        (SHARED / "NC_006273.2.fasta").read_bytes()
    ).digest()


def test_packaged_cds_table_is_derived_from_the_shared_annotation() -> None:
    with CDS_TABLE.open() as handle:
        packaged = list(csv.DictReader(handle, delimiter="\t"))
    assert packaged == derive_cds_table(SHARED / "NC_006273.2.gff3")
    ul89 = merlin().genes["UL89"]
    assert len(ul89.parts) == 2 and ul89.parts[0][0] > ul89.parts[1][0]  # spliced, minus strand: coding order


def test_translated_genes_are_the_shared_proteins_and_the_knowledge_graphs_lengths() -> None:
    proteins: dict[str, str] = {}
    name = ""
    for line in (SHARED / "hcmv_merlin_proteins.fasta").read_text().splitlines():
        if line.startswith(">"):
            name = next(g for g in RESISTANCE_GENES if g in line)
            proteins[name] = ""
        else:
            proteins[name] += line.strip()
    with (TABLES_DIR / "genes.tsv").open() as handle:
        lengths = {row["gene"]: int(row["protein_length"]) for row in csv.DictReader(handle, delimiter="\t")}
    for gene_name, g in merlin().genes.items():
        assert g.protein == proteins[gene_name].rstrip("*")
        assert len(g.protein) == lengths[gene_name]


def test_import_reference_rebuilds_the_packaged_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-reference", str(SHARED), "--out", str(tmp_path / "sources")]) == 0
    for packaged in (GENOME, CDS_TABLE):
        assert (tmp_path / "sources" / packaged.name).read_bytes() == packaged.read_bytes()
    assert main(["import-reference", str(tmp_path)]) == 2  # no NC_006273.2 files there
    assert "NC_006273.2.fasta: not found" in capsys.readouterr().err


# --- FASTA ---------------------------------------------------------------------------------

TABLE5 = ["UL97:M460V", "UL97:H520Q", "UL97:C592G", "UL97:A594V", "UL97:del601-603", "UL54:A809V",
          "UL54:L501I", "UL56:C325Y", "UL27:L335P", "UL51:P91S", "UL89:N320H", "UL54:T700A"]  # fmt: skip


def test_a_consensus_genome_with_table5_mutations_gives_them_all_back_and_reads_every_gene(tmp_path: Path) -> None:
    path = _write(tmp_path, "genome.fasta", fasta({"consensus": genome_with(planted(TABLE5))}))
    found = genotype_files([path])
    assert sorted(c.notation for c in found.mutations) == sorted(TABLE5)
    whole = {name for name, codons in found.read.items() if len(codons) == len(gene(name).protein)}
    assert whole == set(RESISTANCE_GENES)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse-complement"])
def test_an_amplicon_in_either_orientation_reads_its_codons_only(tmp_path: Path, reverse: bool) -> None:
    edits = planted(["UL97:C592G", "UL97:del600-601"])
    path = _write(tmp_path, "a.fa", fasta({"UL97 400-650": amplicon("UL97", edits, 400, 650, reverse=reverse)}))
    block = genotype([path])
    assert [m["mutation"] for m in block["mutations"]] == ["UL97:C592G", "UL97:del600-601"]
    assert block["genes_tested"] == ["UL97"]
    low, high = map(int, block["coverage"]["UL97"].split("-"))
    assert low <= 400 and high >= 650 and high < 707  # partly read: a UL97 amplicon, not the gene


def test_iupac_codes_are_mixtures_with_both_residues_reported(tmp_path: Path) -> None:
    g = gene("UL97")
    position = g.positions[3 * 591]  # the first base of codon 592 (TGC, C): T/G mixture = K
    sequence = list(amplicon("UL97", [], 500, 650))
    low = min(g.positions[3 * 499 : 3 * 650]) - 40
    sequence[position - low] = "K"
    found = _found([_write(tmp_path, "m.fa", fasta({"mix": "".join(sequence)}))])
    assert set(found) == {"UL97:C592G"}  # G with the wild-type T: the minority variant; the reference residue stays
    assert found["UL97:C592G"]["mixture"] is True and "variant_fraction" not in found["UL97:C592G"]


@pytest.mark.parametrize(
    ("mutation", "consequence"),
    [("UL97:A594_595insG", "in-frame insertion"), ("UL97:del591-607", "in-frame deletion"),
     ("UL97:C592fs", "frameshift"), ("UL27:C415*", "stop"), ("UL54:del981-982", "in-frame deletion")],
)  # fmt: skip
def test_indels_and_stops_are_named_as_the_package_writes_them(tmp_path: Path, mutation: str, consequence: str) -> None:
    name = parse_mutation(mutation)
    path = _write(tmp_path, "x.fa", fasta({"r": amplicon(name.gene, edits_for(name))}))
    found = _found([path])
    assert list(found) == [str(name)] and found[str(name)]["consequence"] == consequence


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse-complement"])
@pytest.mark.parametrize(("first", "last"), [(592, 592), (590, 600), (560, 620), (400, 700)])
def test_a_run_of_ns_is_not_read_and_no_deletion(tmp_path: Path, first: int, last: int, reverse: bool) -> None:
    """Review finding: Ns over UL97 codons 590-600 came out as del590-600 (a resistance deletion)."""
    g = gene("UL97")
    sequence = list(amplicon("UL97", []))
    low = min(g.positions) - 40
    for index in range(3 * (first - 1), 3 * last):
        sequence[g.positions[index] - low] = "N"
    text = "".join(sequence)
    path = _write(tmp_path, "n.fa", fasta({"n": reverse_complement(text) if reverse else text}))
    found = genotype_files([path])
    assert found.changes == []
    assert found.coverage() == {"UL97": f"1-{first - 1},{last + 1}-707"}


def test_a_synonymous_change_is_marked_and_is_no_mutation(tmp_path: Path) -> None:
    g = gene("UL97")
    codon = g.coding[3 * 591 : 3 * 592]  # TGC (C592): TGT is C too
    edit = Edit(g.positions[3 * 591 + 2], codon[2], "T")
    block = genotype([_write(tmp_path, "s.fa", fasta({"s": amplicon("UL97", [edit])}))])
    assert block["mutations"] == [] and block["synonymous"] == ["UL97:C592= (g.143573C>T)"]


_GENES = st.sampled_from(RESISTANCE_GENES)


@st.composite
def substitutions(draw: st.DrawFn) -> tuple[str, list[Edit]]:
    gene_name = draw(_GENES)
    g = gene(gene_name)
    position = draw(st.integers(1, len(g.protein)))
    alt = draw(st.sampled_from(sorted(set("ACDEFGHIKLMNPQRSTVWY*") - {g.protein[position - 1]})))
    name = parse_mutation(f"{gene_name}:{g.protein[position - 1]}{position}{alt}")
    return str(name), edits_for(name)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(substitutions(), min_size=1, max_size=4, unique_by=lambda m: m[0].split(":")[1][1:-1]),
       st.booleans())  # fmt: skip
def test_every_planted_substitution_comes_back_and_nothing_else(
    tmp_path: Path, mutations: list[tuple[str, list[Edit]]], reverse: bool
) -> None:
    """Property: any substitution (stops included) in any of the six genes, one to four at once,
    on either strand, comes back exactly; a change elsewhere would be a synonymous one, marked."""
    codons = {(m[0].split(":")[0], m[0].split(":")[1][1:-1]) for m in mutations}
    assert len(codons) == len(mutations)  # one change per codon (two in one codon make one residue)
    edits = [e for _, planted_edits in mutations for e in planted_edits]
    path = _write(tmp_path, "p.fa", fasta({"genome": genome_with(edits)}))
    found = genotype_files([path])
    assert sorted(c.notation for c in found.mutations) == sorted(m[0] for m in mutations)


# --- VCF and VarScan ----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["freebayes", "lofreq", "varscan", "ad-dp"])
@pytest.mark.parametrize("version", ["4.0", "4.1", "4.2"])
def test_vcf_fractions_come_back_from_whatever_the_caller_wrote(tmp_path: Path, style: str, version: str) -> None:
    variants = [Variant(planted(["UL97:C592G"])[0], 12.5, 800), Variant(planted(["UL97:del591-594"])[0], 30.0, 400),
                Variant(planted(["UL54:A809V"])[0], 64.0, 500)]  # fmt: skip
    path = _write(tmp_path, "calls.vcf", vcf(variants, style, version, noise=30))
    found = _found([path], genes_read_whole=["UL97", "UL54"])
    assert {name: entry["variant_fraction"] for name, entry in found.items()} == {
        "UL97:C592G": 12.5, "UL97:del591-594": 30.0, "UL54:A809V": 64.0}  # fmt: skip
    if style != "freebayes":  # FreeBayes' INFO AF is no read count: no depth from it... but DP is there
        assert found["UL97:C592G"]["read_depth"] == 800


def test_a_multiallelic_site_gives_each_allele_its_own_fraction(tmp_path: Path) -> None:
    g = gene("UL97")
    position = g.positions[3 * 591]  # C592: TGC; G (GGC, C592G) and A (AGC, C592S)
    text = vcf([], "lofreq").rstrip("\n") + f"\nNC_006273.2\t{position}\t.\tT\tG,A\t60\tPASS\tDP=1000;AF=0.2,0.05\n"
    text = text.replace("Number=1,Type=Float", "Number=A,Type=Float")
    found = _found([_write(tmp_path, "m.vcf", text)])
    assert {name: entry["variant_fraction"] for name, entry in found.items()} == {"UL97:C592G": 20.0, "UL97:C592S": 5.0}


def test_varscan_tables_and_min_fraction(tmp_path: Path) -> None:
    variants = [Variant(planted(["UL97:C592G"])[0], 45.0, 300), Variant(planted(["UL97:del591-594"])[0], 2.0, 300),
                Variant(edits_for(parse_mutation("UL97:A594_595insG"))[0], 9.0, 300)]  # fmt: skip
    path = _write(tmp_path, "calls.tab", varscan_table(variants))
    assert {n: e["variant_fraction"] for n, e in _found([path], min_fraction=0).items()} == {
        "UL97:C592G": 45.0, "UL97:del591-594": 2.0, "UL97:A594_595insG": 9.0}  # fmt: skip
    block = genotype([path])  # the default threshold, 5%: the 2% deletion is named, not used
    assert {m["mutation"] for m in block["mutations"]} == {"UL97:C592G", "UL97:A594_595insG"}
    assert block["below_threshold"] == [f"UL97:del591-594 2% ({path}:2)"]  # rows by position


def test_a_variant_file_reads_only_its_calls_unless_the_genes_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.vcf", vcf([Variant(planted(["UL97:C592G"])[0], 50.0)], "lofreq"))
    assert genotype([path])["coverage"] == {"UL97": "592-592"}
    assert genotype([path], genes_read_whole=["UL97"])["coverage"] == {}  # read whole: no coverage needed


# --- bad input ----------------------------------------------------------------------------


OTHER_CONTIG = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "chr1\t5\t.\tA\tG\t.\tPASS\t.\n"
)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("notes.dat", "hello world\n", "not FASTA, VCF or a VarScan table"),
        ("notes.txt", "hello world\n", "notes.txt:1: not FASTA"),
        ("empty.fasta", "", "empty"),
        ("seq.fasta", "ACGT\n", "seq.fasta:1: not FASTA"),
        ("bad.fasta", ">r\nACGTJ\n", "bad.fasta:2: record 'r': 'J' is no nucleotide"),
        ("nowhere.fasta", ">far\n" + "ACGTTGCA" * 40 + "\n", "nowhere.fasta:1: record 'far' aligns to none"),
        ("other.vcf", OTHER_CONTIG, "not NC_006273.2"),
    ],
)
def test_bad_sequence_files_are_named_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, expected: str
) -> None:
    path = _write(tmp_path, name, text)
    assert main(["genotype", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_vcf_whose_ref_disagrees_with_the_reference_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    position = gene("UL97").positions[3 * 591]
    text = vcf([], "lofreq") + f"NC_006273.2\t{position}\t.\tA\tG\t60\tPASS\tDP=10;AF=0.5\n"  # Merlin has T there
    path = _write(tmp_path, "wrong.vcf", text)
    assert main(["genotype", str(path)]) == 2
    assert f"wrong.vcf:{len(text.splitlines())}: REF 'A' at NC_006273.2:{position} disagrees" in capsys.readouterr().err


# --- into the plan ------------------------------------------------------------------------


def _status(recommendations: list[object], drug: str) -> str:
    return recommendations[0].susceptibility[drug].status  # type: ignore[attr-defined]


def test_a_gene_read_in_part_never_gives_no_known_resistance_for_codons_not_read(tmp_path: Path) -> None:
    """Safety: no known resistance covers only what was read. UL54 codons 300-600 miss A809V's
    codon (foscarnet, cidofovir, ganciclovir resistance): foscarnet is 'unknown', not 'no known'."""
    case = json.loads((EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json").read_text())
    _write(tmp_path, "part.fasta", fasta({"UL54 300-600": amplicon("UL54", [], 300, 600),
                                         "UL97 whole": amplicon("UL97", planted(["UL97:M460V"]))}))  # fmt: skip
    ul97 = amplicon("UL97", planted(["UL97:M460V"]))
    _write(tmp_path, "whole.fasta", fasta({"UL54": amplicon("UL54", []), "UL97": ul97}))
    for name, expected in (("part.fasta", "unknown"), ("whole.fasta", "no-known-resistance")):
        test = {"date": "2025-04-03", "specimen": "plasma", "sequence_files": [name]}
        record = _write(tmp_path, f"{name}.json", json.dumps({**case, "genotype_tests": [test]}))
        recs = recommend(record)
        assert _status(recs, "foscarnet") == expected, name
    assert "read only in part" in recs[0].susceptibility["foscarnet"].note or expected != "unknown"


def test_recommend_with_a_genotype_file_matches_the_hand_written_record(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["recommend", str(SEQUENCES / "no-genotype.json"), "--format", "json"]
    assert main([*base, "--genotype", str(SEQUENCES / "ul97-ul54-amplicons.fasta"), "--genotype-date",
                 "2025-04-03", "--specimen", "plasma"]) == 0  # fmt: skip
    from_file = json.loads(capsys.readouterr().out)
    assert main(["recommend", str(EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json"), "--format", "json"]) == 0
    by_hand = json.loads(capsys.readouterr().out)
    for key in ("table4_rows", "refractory", "options", "excluded"):
        assert _clinical(from_file[key]) == _clinical(by_hand[key]), key


def _clinical(value: object) -> object:
    """The decision without provenance text that names the patient or the file."""
    text = json.dumps(value, sort_keys=True).replace("SEQ-MIXED", "CASE-MIXED")
    return json.loads(text)


def test_genotype_turtle_and_json_are_the_same_test(capsys: pytest.CaptureFixture[str]) -> None:
    from rdflib import Graph

    fasta_path = str(SEQUENCES / "ul97-ul54-amplicons.fasta")
    assert main(["genotype", fasta_path, "--format", "turtle", "--date", "2025-04-03", "--patient", "P1"]) == 0
    graph = Graph().parse(data=capsys.readouterr().out, format="turtle")
    notations = {str(o) for o in graph.objects(None, graph.namespace_manager.expand_curie("cmvrr:reportedNotation"))}
    assert notations == {"UL97:M460V", "UL54:A809V"}
    regions = list(graph.subjects(None, graph.namespace_manager.expand_curie("cmvrr:CoveredRegion")))
    assert len(regions) == 2


# --- the round trip over every worked case --------------------------------------------------

CASES = sorted((EXAMPLES_DIR / "cases").glob("*.json"))


def _as_lab_files(case: dict[str, object], folder: Path) -> dict[str, object]:
    """The case with each genotype test's mutations planted into a lab file: a FASTA of whole-gene
    amplicons (a consensus), or, where the record gives fractions or two changes share a codon, a
    VCF with read counts (AD/DP) and the genes named as read whole."""
    tests = []
    for number, test in enumerate(case.get("genotype_tests", [])):  # type: ignore[attr-defined]
        genes = [g.upper() for g in test["genes_tested"]]
        only = genes[0] if len(genes) == 1 else None
        names, fractions = [], []
        for entry in test.get("mutations", []):
            text, hint = (entry, only) if isinstance(entry, str) else (entry["mutation"], entry.get("gene", only))
            names.append(parse_mutation(text, hint))
            fractions.append(entry.get("variant_fraction") if isinstance(entry, dict) else None)
        codons = [(n.gene, p) for n in names for p in range(n.position, (n.end or n.position) + 1)]
        lab = {k: v for k, v in test.items() if k not in ("genes_tested", "mutations")}
        if any(f is not None for f in fractions) or len(codons) != len(set(codons)):
            variants = [Variant(e, f if f is not None else 100.0) for n, f in zip(names, fractions, strict=True)
                        for e in edits_for(n)]  # fmt: skip
            _write(folder, f"test{number}.vcf", vcf(variants, "ad-dp"))
            # the lab reported these fractions: its cut-off admitted them
            lab |= {"sequence_files": [f"test{number}.vcf"], "genes_tested": genes, "min_fraction": 0}
        else:
            edits = [e for n in names for e in edits_for(n)]
            _write(folder, f"test{number}.fasta", fasta({g: amplicon(g, edits) for g in genes}))
            lab |= {"sequence_files": [f"test{number}.fasta"]}
        tests.append(lab)
    return {**case, "genotype_tests": tests}


def _decisions(recommendation: object) -> dict[str, object]:
    data = json.loads(json.dumps(recommendation, default=lambda o: o.__dict__))
    return {
        "rows": data["table4_rows"],
        "refractory": data["refractory"]["status"],
        "susceptibility": {drug: s["status"] for drug, s in data["susceptibility"].items()},
        "options": [(o["action"], o["therapy"], o["grade"], o.get("role")) for o in data["options"]],
        "excluded": sorted(str(e.get("therapy")) for e in data["excluded"]),
    }


WITH_TESTS = [case for case in CASES if json.loads(case.read_text()).get("genotype_tests")]


@pytest.mark.parametrize("path", WITH_TESTS, ids=lambda p: p.stem)
def test_a_worked_case_from_lab_files_gets_the_plan_of_its_hand_written_record(tmp_path: Path, path: Path) -> None:
    """Round trip (issue 15): every worked case's genotype, planted into sequence and read back by
    cmvrr genotype, gives the same plan as the record a clinician wrote by hand."""
    from kg_builder.api import PatientDoesNotConform
    from kg_builder.report import recommendations_json

    case = json.loads(path.read_text())
    try:
        by_hand = recommend(path)
    except PatientDoesNotConform:
        pytest.skip("a worked case of a non-conforming record")  # none today; the count below says so
    record = _write(tmp_path, "record.json", json.dumps(_as_lab_files(case, tmp_path)))
    from_files = recommend(record)
    hand, files = json.loads(recommendations_json(by_hand)), json.loads(recommendations_json(from_files))
    hand, files = (h if isinstance(h, list) else [h] for h in (hand, files))
    assert [_decisions(h) for h in hand] == [_decisions(f) for f in files]


def test_batch_reads_records_that_name_their_lab_files(tmp_path: Path) -> None:
    """Batch mode: a JSON-lines record's sequence_files sit beside the .jsonl file; a record whose
    file is bad fails alone, named, while the next one gets its plan."""
    (tmp_path / "amplicons.fasta").write_text((SEQUENCES / "ul97-ul54-amplicons.fasta").read_text())
    (tmp_path / "bad.fasta").write_text(">x\nACGTJ\n")
    good = json.loads((SEQUENCES / "with-sequence-files.json").read_text())
    good["genotype_tests"][0]["sequence_files"] = ["amplicons.fasta"]
    bad = {**good, "id": "SEQ-BAD", "genotype_tests": [{**good["genotype_tests"][0], "sequence_files": ["bad.fasta"]}]}
    cohort = _write(tmp_path, "cohort.jsonl", json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["recommend", "--batch", str(cohort), "--out", str(out)]) == 1  # one record failed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2
    text = json.dumps(lines)
    assert "bad.fasta:2: record 'x': 'J' is no nucleotide" in text
    ok = [line for line in lines if "SEQ-MIXED" in json.dumps(line) and "options" in json.dumps(line)]
    assert ok and "foscarnet" in json.dumps(ok[0])


def test_a_bgzipped_vcf_reads_as_the_plain_one(tmp_path: Path) -> None:
    import pysam

    plain = SEQUENCES / "ngs-lofreq.vcf"
    packed = tmp_path / "ngs-lofreq.vcf.gz"
    pysam.tabix_compress(str(plain), str(packed))
    expected = _found([plain])
    for entry in expected.values():
        entry["source"] = str(entry["source"]).replace(str(plain), str(packed))
    assert _found([packed]) == expected


def test_a_vcf_of_several_samples_reads_the_one_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = vcf([Variant(planted(["UL97:C592G"])[0], 20.0, 500)], "ad-dp")
    lines = one.splitlines()
    lines[-2] += "\tsample2"  # the #CHROM line
    lines[-1] += "\t0/1:100,400:500"  # sample2: 80%
    path = _write(tmp_path, "two.vcf", "\n".join(lines) + "\n")
    assert main(["genotype", str(path)]) == 2
    assert "2 samples (sample1, sample2): choose one with --sample" in capsys.readouterr().err
    assert _found([path], sample="sample2")["UL97:C592G"]["variant_fraction"] == 80.0
    assert _found([path], sample="sample1")["UL97:C592G"]["variant_fraction"] == 20.0


def test_the_plan_cautions_an_antiviral_whose_resistance_codons_were_not_read(tmp_path: Path) -> None:
    """Review finding: with UL54 read at codons 300-600 only, 'start foscarnet' came with no word
    that foscarnet's resistance codons (UL54 700-1000) were never read."""
    case = json.loads((EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json").read_text())
    ul97 = amplicon("UL97", planted(["UL97:M460V"]))
    _write(tmp_path, "part.fasta", fasta({"UL54 300-600": amplicon("UL54", [], 300, 600), "UL97": ul97}))
    test = {"date": "2025-04-03", "specimen": "plasma", "sequence_files": ["part.fasta"]}
    [rec] = recommend(_write(tmp_path, "r.json", json.dumps({**case, "genotype_tests": [test]})))
    foscarnet = next(option for option in rec.options if option.therapy == "foscarnet")
    assert any("UL54 read only in part" in reason for reason in foscarnet.reasons)
    [whole] = recommend(EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json")
    assert not any("read only in part" in r for option in whole.options for r in option.reasons)


def test_a_later_test_that_did_not_read_the_codon_does_not_miss_the_mutation(tmp_path: Path) -> None:
    """FAQ15 timeline with sequence data: a mutation counts as 'not found again' only on a later
    test that read its codon (a UL97 amplicon of codons 500-650 says nothing about M460V)."""
    case = json.loads((EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json").read_text())
    first = {"date": "2025-04-03", "specimen": "plasma", "genes_tested": ["UL97", "UL54"], "mutations": ["UL97:M460V"]}
    _write(tmp_path, "later-part.fasta", fasta({"UL97 500-650": amplicon("UL97", [], 500, 650)}))
    _write(tmp_path, "later-whole.fasta", fasta({"UL97": amplicon("UL97", [])}))
    for name, missed in (("later-part.fasta", False), ("later-whole.fasta", True)):
        later = {"date": "2025-04-20", "specimen": "plasma", "sequence_files": [name]}
        record = _write(tmp_path, f"{name}.json", json.dumps({**case, "genotype_tests": [first, later]}))
        [rec] = recommend(record)
        [m460v] = [m for m in rec.genotype_history[0].mutations if m.mutation.endswith("M460V")]
        assert bool(m460v.not_seen_on) is missed, name
        assert ("UL97" in rec.genotype_history[1].coverage) is (not missed)
