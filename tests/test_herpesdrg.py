"""HerpesDRG, the second evidence source (issue 12; docs/architecture.md, Second source): the
packaged table is the faithful, fresh derivative of the reference file, every mutation sits on
the Merlin protein with its reference residue, every drug is the guideline's, every publication
is a well-formed DOI or a link, and the named graph and release file carry its licence, citation
and version. One rule per test, one case per mutation where the rule is about a mutation."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REFERENCE
from rdflib import Graph, URIRef

from kg_builder.errors import TableError
from kg_builder.knowledge.herpesdrg import (
    DATASET,
    DRUGS,
    EXCLUDED,
    GENES,
    LICENCE,
    PROVENANCE,
    TABLE,
    derive,
    evidence_graph,
    measurements,
    provenance,
    read_measurements,
)
from kg_builder.knowledge.tables import load_tables
from kg_builder.paths import RELEASE_DIR
from kg_builder.patients.mutations import parse_mutation
from kg_builder.terms import CMVRR, DCTERMS, OWL, RDF

SOURCE = REFERENCE / "herpesdrg-db.tsv"
NAMES = sorted({name for m in measurements() for name in (m.mutation, *m.co_mutations)})


def test_the_packaged_table_is_the_fresh_import_of_the_reference_file() -> None:
    rows, facts = derive(SOURCE)
    assert facts["sha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest() == provenance()["sha256"]
    assert len(rows) == len(measurements()) == provenance()["measurements"]
    assert [row["mutation"] for row in rows] == [m.mutation for m in measurements()], (
        "ontology/sources/herpesdrg.tsv is stale: run cmvrr import-herpesdrg ../shared/reference/herpesdrg-db.tsv"
    )


def test_the_licence_travels_with_the_data() -> None:
    assert LICENCE.read_text() == (REFERENCE / "LICENSE-herpesdrg.txt").read_text()
    assert "MIT" in LICENCE.read_text() and "Oscar J Charles" in LICENCE.read_text()


def test_only_hcmv_status_a_entries_of_the_six_genes_are_kept() -> None:
    assert {parse_mutation(m.mutation).gene for m in measurements()} <= set(GENES)
    kept = {m.herpesdrg_id for m in measurements()}
    assert not kept & set(EXCLUDED), "an excluded entry came back"
    assert int(str(provenance()["entries_kept"])) == len(kept)


@pytest.mark.parametrize("name", NAMES)
def test_mutation_lies_inside_the_merlin_protein(name: str, merlin_proteins: dict[str, str]) -> None:
    mutation = parse_mutation(name)
    assert 1 <= mutation.position <= (mutation.end or mutation.position) <= len(merlin_proteins[mutation.gene])


@pytest.mark.parametrize("name", [name for name in NAMES if parse_mutation(name).ref])
def test_mutation_reference_residue_matches_merlin(name: str, merlin_proteins: dict[str, str]) -> None:
    mutation = parse_mutation(name)
    assert merlin_proteins[mutation.gene][mutation.position - 1] == mutation.ref, (
        f"{name}: Merlin {mutation.gene} has {merlin_proteins[mutation.gene][mutation.position - 1]} at "
        f"{mutation.position}; repair the entry (CO_GENE_REPAIRS) or leave it out (EXCLUDED) with the reason"
    )


def test_every_drug_is_a_therapy_of_the_knowledge_graph() -> None:
    therapies = {row["therapy"] for row in load_tables()["therapies"]}
    assert {m.drug for m in measurements()} == set(DRUGS.values()) and set(DRUGS.values()) <= therapies


def test_every_measurement_names_a_well_formed_doi_or_a_link() -> None:
    for m in measurements():
        assert m.doi or m.link.startswith("https://"), m
        assert not m.doi or (m.doi.startswith("10.") and "/" in m.doi and " " not in m.doi), m.doi


def test_every_measurement_has_a_number_or_the_studys_word() -> None:
    for m in measurements():
        assert (m.fold_change is not None and m.fold_change >= 0) != bool(m.call), m
        assert m.call in ("", "resistant", "polymorphism"), m


def test_a_malformed_row_names_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "herpesdrg.tsv"
    lines = TABLE.read_text().splitlines()
    broken.write_text("\n".join([*lines[:5], lines[5].replace("\t", " ", 1), *lines[6:]]) + "\n")
    with pytest.raises(TableError, match=r"herpesdrg\.tsv:6: expected 12 tab-separated cells, found 11"):
        list(read_measurements(broken))


def test_import_writes_all_or_nothing_and_refuses_a_file_that_is_not_herpesdrg(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = subprocess.run([sys.executable, "-m", "kg_builder", "import-herpesdrg", str(SOURCE), "--out", str(out)],
                          capture_output=True, text=True)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert (out / TABLE.name).read_bytes() == TABLE.read_bytes()
    assert (out / PROVENANCE.name).read_bytes() == PROVENANCE.read_bytes()
    wrong = tmp_path / "not-herpesdrg.tsv"
    wrong.write_text("a\tb\n1\t2\n")
    command = [sys.executable, "-m", "kg_builder", "import-herpesdrg", str(wrong), "--out", str(tmp_path / "x")]
    bad = subprocess.run(command,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "not a HerpesDRG database file" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x").exists()


def test_the_named_graph_carries_licence_citation_and_version() -> None:
    graph = evidence_graph()
    assert (DATASET, DCTERMS.license, URIRef("https://opensource.org/licenses/MIT")) in graph
    assert "10.1186/s12859-024-05885-5" in str(graph.value(DATASET, DCTERMS.bibliographicCitation))
    assert str(provenance()["sha256"]) in str(graph.value(DATASET, OWL.versionInfo))


def test_every_measurement_node_has_one_variant_one_agent_and_a_value() -> None:
    graph = evidence_graph()
    nodes = set(graph.subjects(RDF.type, CMVRR.PhenotypeMeasurement))
    assert len(nodes) == len(measurements())
    for node in nodes:
        assert len(set(graph.objects(node, CMVRR.measuredVariant))) == 1, node
        assert len(set(graph.objects(node, CMVRR.measuredAgent))) == 1, node
        values = set(graph.objects(node, CMVRR.measuredFoldChange)) | set(graph.objects(node, CMVRR.reportedPhenotype))
        assert len(values) == 1, node


def test_table5_mutations_keep_their_iris_in_the_second_source() -> None:
    """The two sources meet on the mutation: UL97 C592G is one node in both graphs."""
    table5 = {CMVRR[row["mutation"]] for row in load_tables()["mutations"]}
    measured = set(evidence_graph().objects(None, CMVRR.measuredVariant))
    assert CMVRR["UL97_C592G"] in table5 & measured
    assert len(table5 & measured) > 40


def test_committed_second_source_release_file_is_fresh(release_dir: Path) -> None:
    committed = RELEASE_DIR / "cmv-rr-herpesdrg.ttl"
    assert committed.read_bytes() == (release_dir / "cmv-rr-herpesdrg.ttl").read_bytes(), (
        "ontology/release/cmv-rr-herpesdrg.ttl is stale: run `cmvrr build --out ontology/release` and commit it"
    )
    parsed = Graph().parse(committed, format="turtle")
    assert (DATASET, DCTERMS.license, URIRef("https://opensource.org/licenses/MIT")) in parsed
    assert len(parsed) == len(evidence_graph())
