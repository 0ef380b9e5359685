"""Namespaces and the IRI patterns of outside identifiers (DESIGN.md, Identifiers)."""

from __future__ import annotations

from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

CMVRR = Namespace("https://w3id.org/cmv-rr/")
OBO = Namespace("http://purl.obolibrary.org/obo/")
IDENTIFIERS = Namespace("http://identifiers.org/")

CMV_ONTOLOGY = URIRef("https://w3id.org/cmv-rr/cmv-rr")
CORE_ONTOLOGY = URIRef("https://w3id.org/cmv-rr/guideline-core")
GUIDELINE_DOI = "10.1016/j.jtct.2021.09.010"

PREFIXES = {
    "cmvrr": CMVRR,
    "dcterms": DCTERMS,
    "obo": OBO,
    "owl": OWL,
    "prov": PROV,
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "xsd": XSD,
}


def chebi(curie: str) -> URIRef:
    """CHEBI:465284 -> the OBO PURL."""
    return OBO[curie.replace(":", "_")]


def drugbank(accession: str) -> URIRef:
    return IDENTIFIERS[f"drugbank:{accession}"]


def ncbigene(gene_id: str) -> URIRef:
    return IDENTIFIERS[f"ncbigene:{gene_id}"]


def refseq(accession: str) -> URIRef:
    return IDENTIFIERS[f"refseq:{accession}"]


__all__ = [
    "CMVRR",
    "CMV_ONTOLOGY",
    "CORE_ONTOLOGY",
    "DCTERMS",
    "GUIDELINE_DOI",
    "OBO",
    "OWL",
    "PREFIXES",
    "PROV",
    "RDF",
    "RDFS",
    "SKOS",
    "XSD",
    "chebi",
    "drugbank",
    "ncbigene",
    "refseq",
]
