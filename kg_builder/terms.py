"""The package's vocabulary of identifiers and literals: namespaces, outside identifiers,
patient IRIs, typed literals, the one spelling of numbers, and day numbers
(docs/architecture.md, Identifiers). A leaf: it imports nothing of the package."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Literal as Form

from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

CMVRR = Namespace("https://w3id.org/cmv-rr/")
OBO = Namespace("http://purl.obolibrary.org/obo/")
IDENTIFIERS = Namespace("http://identifiers.org/")

CMV_ONTOLOGY = URIRef("https://w3id.org/cmv-rr/cmv-rr")
CORE_ONTOLOGY = URIRef("https://w3id.org/cmv-rr/guideline-core")
GUIDELINE_DOI = "10.1016/j.jtct.2021.09.010"
KNOWLEDGE_GRAPH = URIRef("https://w3id.org/cmv-rr/graph/knowledge")
HERPESDRG_GRAPH = URIRef("https://w3id.org/cmv-rr/graph/herpesdrg")  # the second source, kept apart
PATIENT_BASE = "https://w3id.org/cmv-rr/patient/"

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


# Patients -----------------------------------------------------------------------------------


def patient_iri(patient_id: str) -> URIRef:
    return URIRef(f"{PATIENT_BASE}{patient_id}")


def patient_name(iri: str) -> str:
    """What reports call a patient: its record's id, or the whole IRI of one not under PATIENT_BASE."""
    return iri.removeprefix(PATIENT_BASE)


def named_patient(name: str) -> URIRef:
    """patient_name's inverse: a record's id never holds ':' (patient.schema.json), an IRI does."""
    return URIRef(name) if ":" in name else patient_iri(name)


@lru_cache(maxsize=1 << 12)  # a chunk asks for its patients' graphs in every query
def patient_graph_iri(patient: URIRef) -> URIRef:
    """The named graph a store keeps one patient's data in."""
    return URIRef(f"{patient}/graph")


# Literals -----------------------------------------------------------------------------------

NUMERIC_DATATYPES = frozenset({str(XSD.decimal), str(XSD.integer), str(XSD.double), str(XSD.float)})


def number_text(lexical: str, form: Form["xsd", "plain"] = "plain") -> str:
    """The one spelling of a number. ``xsd``: the canonical xsd:decimal form ("1000.0"), which
    every RDF syntax writes alike and pyshacl puts into its messages; ``plain``: the shortest
    form, nine places at most ("1000", "0.333333333"), so that engines which differ in the
    precision of division or in spelling (oxigraph 35, rdflib 35.0) give one answer.
    Raises ValueError for text that is no finite number."""
    try:
        number = Decimal(lexical)
    except InvalidOperation as error:
        raise ValueError(f"{lexical!r} is not a decimal number") from error
    if not number.is_finite():
        raise ValueError(f"{lexical!r} is not a finite number")
    if form == "xsd":
        whole, _, fraction = format(number, "f").partition(".")
        return f"{whole}.{fraction.rstrip('0') or '0'}"
    # The precision must hold every digit left of the point too (an age of 1e19 broke it).
    with localcontext() as context:
        context.prec = max(28, number.adjusted() + 11)
        text = format(number.quantize(Decimal("1e-9")).normalize(), "f")
    return text if text != "-0" else "0"


def canonical_lexical(lexical: str, datatype: str | None) -> str:
    """A query answer's lexical form, numbers spelled one way (number_text), others as they are."""
    if datatype in NUMERIC_DATATYPES:
        try:
            return number_text(lexical)
        except ValueError:
            return lexical
    return lexical


def en(text: str) -> Literal:
    return Literal(text, lang="en")


def string(text: str) -> Literal:
    return Literal(text, datatype=XSD.string)


def integer(value: str | int) -> Literal:
    return Literal(int(value), datatype=XSD.integer)


def decimal(value: str | int | float) -> Literal:
    """xsd:decimal in canonical lexical form ("1000.0"), which every RDF syntax writes alike."""
    return Literal(number_text(str(value), "xsd"), datatype=XSD.decimal)


def boolean(value: str | bool) -> Literal:
    return Literal(value is True or value == "true", datatype=XSD.boolean)


def date(text: str) -> Literal:
    """xsd:date; a malformed date stays ill-typed so the shapes report it, never a crash."""
    return Literal(text, datatype=XSD.date)


# Day numbers --------------------------------------------------------------------------------

_EPOCH = datetime.date(1970, 1, 1)


def day_number(day: datetime.date) -> int:
    """Days since 1970-01-01: SPARQL 1.1 cannot subtract dates, so patient graphs carry these."""
    return (day - _EPOCH).days


def date_of_day(number: int) -> datetime.date:
    return _EPOCH + datetime.timedelta(days=number)


__all__ = [
    "CMVRR",
    "CMV_ONTOLOGY",
    "CORE_ONTOLOGY",
    "DCTERMS",
    "GUIDELINE_DOI",
    "HERPESDRG_GRAPH",
    "KNOWLEDGE_GRAPH",
    "NUMERIC_DATATYPES",
    "OBO",
    "OWL",
    "PATIENT_BASE",
    "PREFIXES",
    "PROV",
    "RDF",
    "RDFS",
    "SKOS",
    "XSD",
    "boolean",
    "canonical_lexical",
    "chebi",
    "date",
    "date_of_day",
    "day_number",
    "decimal",
    "drugbank",
    "en",
    "integer",
    "named_patient",
    "ncbigene",
    "number_text",
    "patient_graph_iri",
    "patient_iri",
    "patient_name",
    "refseq",
    "string",
]
