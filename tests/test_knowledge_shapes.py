"""Knowledge SHACL shapes: the release conforms, and a broken fact is reported with its message."""

from __future__ import annotations

from pyshacl import validate
from rdflib import Graph, URIRef

from kg_builder.paths import SHAPES_DIR

CMVRR = "https://w3id.org/cmv-rr/"


def _validate(graph: Graph) -> tuple[bool, str]:
    shapes = Graph().parse(SHAPES_DIR / "knowledge.ttl")
    conforms, _, text = validate(graph, shacl_graph=shapes, advanced=True, inference="none")
    return bool(conforms), str(text)


def test_release_conforms_to_knowledge_shapes(release: Graph) -> None:
    conforms, text = _validate(release)
    assert conforms, text


def test_recommendation_without_strength_is_reported(release: Graph) -> None:
    broken = Graph() + release
    broken.remove((URIRef(CMVRR + "faq9-high-dose-ganciclovir"), URIRef(CMVRR + "hasStrength"), None))
    conforms, text = _validate(broken)
    assert not conforms
    assert "exactly one strength" in text and "faq9-high-dose-ganciclovir" in text


def test_resistance_fact_without_drug_is_reported(release: Graph) -> None:
    broken = Graph() + release
    broken.remove((URIRef(CMVRR + "UL97_C592G-ganciclovir"), URIRef(CMVRR + "assertedAgent"), None))
    conforms, text = _validate(broken)
    assert not conforms and "exactly one drug" in text


def test_term_without_label_is_reported(release: Graph) -> None:
    broken = Graph() + release
    broken.remove((URIRef(CMVRR + "Mutation"), URIRef("http://www.w3.org/2000/01/rdf-schema#label"), None))
    conforms, text = _validate(broken)
    assert not conforms and "rdfs:label" in text
