"""cmvrr build: four syntaxes of one graph, byte-identical rebuilds, a fresh committed release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, XSD

from kg_builder import __version__
from kg_builder.knowledge.release import EVIDENCE, FORMATS
from kg_builder.paths import RELEASE_DIR

SYNTAX = {"cmv-rr.ttl": "turtle", "cmv-rr.nt": "nt", "cmv-rr.owl": "xml", "cmv-rr.jsonld": "json-ld"}
ONTOLOGY = URIRef("https://w3id.org/cmv-rr/cmv-rr")


def test_build_writes_four_files_that_are_the_same_graph(release_dir: Path, release: Graph) -> None:
    assert sorted(path.name for path in release_dir.iterdir()) == sorted(FORMATS + EVIDENCE)
    for name, syntax in SYNTAX.items():
        graph = Graph().parse(release_dir / name, format=syntax)
        assert len(graph) == len(release), name
        assert isomorphic(graph, release), f"{name} is not the same graph as cmv-rr.ttl"


def test_rebuild_is_byte_identical_whatever_the_hash_seed(release_dir: Path, tmp_path: Path) -> None:
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "kg_builder", "build", "--out", str(out)],
            check=True,
            env=env,
            capture_output=True,
        )
        for name in FORMATS + EVIDENCE:
            assert (out / name).read_bytes() == (release_dir / name).read_bytes(), f"{name} differs (seed {seed})"


def test_committed_release_is_fresh(release_dir: Path) -> None:
    committed = RELEASE_DIR / "cmv-rr.ttl"
    assert committed.read_bytes() == (release_dir / "cmv-rr.ttl").read_bytes(), (
        "ontology/release/cmv-rr.ttl is stale: run `cmvrr build --out ontology/release` and commit it"
    )


def test_release_metadata(release: Graph) -> None:
    assert (ONTOLOGY, OWL.versionInfo, Literal(__version__, datatype=XSD.string)) in release
    version_iri = release.value(ONTOLOGY, OWL.versionIRI)
    assert str(version_iri) == f"https://w3id.org/cmv-rr/releases/{__version__}/cmv-rr.ttl"
    # The core is merged, so no tool has to fetch an import over the network.
    assert release.value(ONTOLOGY, OWL.imports) is None


def test_every_literal_is_typed_or_language_tagged(release: Graph) -> None:
    """docs/architecture.md, Identifiers: stores disagree about plain versus typed strings."""
    untyped = [(s, p, o) for s, p, o in release if isinstance(o, Literal) and o.datatype is None and o.language is None]
    assert not untyped[:5], f"{len(untyped)} plain literals, e.g. {untyped[:5]}"


@pytest.mark.parametrize(
    "drug,chebi,drugbank",
    [
        ("ganciclovir", "CHEBI_465284", "DB01004"),
        ("valganciclovir", "CHEBI_63635", "DB01610"),
        ("foscarnet", "CHEBI_127780", "DB00529"),
        ("cidofovir", "CHEBI_3696", "DB00369"),
        ("leflunomide", "CHEBI_6402", ""),
        ("artesunate", "CHEBI_63918", ""),
        ("letermovir", "", "DB12070"),
        ("maribavir", "", "DB06234"),
        ("filgrastim", "", "DB00099"),
    ],
)
def test_drug_mappings_of_design_md(release: Graph, drug: str, chebi: str, drugbank: str) -> None:
    matches = {
        str(o)
        for o in release.objects(
            URIRef(f"https://w3id.org/cmv-rr/{drug}"), URIRef("http://www.w3.org/2004/02/skos/core#exactMatch")
        )
    }
    if chebi:
        assert f"http://purl.obolibrary.org/obo/{chebi}" in matches
    if drugbank:
        assert f"http://identifiers.org/drugbank:{drugbank}" in matches


def test_carries_resistance_to_is_its_property_chain_materialised(release: Graph) -> None:
    """cmvrr:carriesResistanceTo = inverse(inGene) o confersResistanceTo (Table 5), stated as an
    OWL property chain and materialised, so that SPARQL needs no reasoner."""
    from kg_builder.terms import CMVRR

    chained = {
        (gene, drug)
        for mutation, drug in release.subject_objects(CMVRR.confersResistanceTo)
        for gene in release.objects(mutation, CMVRR.inGene)
    }
    assert set(release.subject_objects(CMVRR.carriesResistanceTo)) == chained
    assert (CMVRR.UL56, CMVRR.letermovir) in chained and (CMVRR.UL27, CMVRR.maribavir) in chained
    assert (CMVRR.carriesResistanceTo, OWL.propertyChainAxiom, None) in release
