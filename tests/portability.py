"""Shared by the portability tests (HTTP endpoint, Jena ARQ): the inputs a query takes, bound
with a VALUES block (the SPARQL protocol and the ARQ command line have no bindings), and results
compared in a canonical form (GROUP_CONCAT order and number spellings differ between engines)."""

from __future__ import annotations

import json
import re
from typing import Any

from rdflib import Literal, URIRef

from kg_builder.commands.query import run_query
from kg_builder.decisions.decide import prepare
from kg_builder.decisions.engines import query_text, with_values
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_file
from kg_builder.terms import patient_graph_iri

PATIENT_FILE = EXAMPLES_DIR / "cases" / "row2-low-level-ul97.json"
PATIENT = URIRef("https://w3id.org/cmv-rr/patient/CASE-ROW2")
INPUTS = {
    "patient": PATIENT,
    "patientGraph": patient_graph_iri(PATIENT),
    "row": URIRef("https://w3id.org/cmv-rr/table4-row-2"),
    "refractory": Literal(True),
    "failedToDecline": Literal(True),
    "highDoseGanciclovir": Literal(True),
    "triggerDay": Literal(20181),
}
# The example has no CNS disease; compartments.rq runs on a retinitis case in the same dataset,
# so that the engines' agreement is never an agreement on nothing.
CNS_PATIENT_FILE = EXAMPLES_DIR / "cases" / "cns-retinitis.json"
CNS_PATIENT = URIRef("https://w3id.org/cmv-rr/patient/CASE-CNS")
# codon-variants.rq runs on a variant neither source knows at a resistance codon (UL97 L595Y).
CODON_PATIENT_FILE = EXAMPLES_DIR / "cases" / "hd-codon-l595y.json"
CODON_PATIENT = URIRef("https://w3id.org/cmv-rr/patient/CP-HD-CODON-L595Y")
INPUTS_BY_QUERY = {
    "compartments": {"patient": CNS_PATIENT, "patientGraph": patient_graph_iri(CNS_PATIENT)},
    "codon-variants": {"patient": CODON_PATIENT, "patientGraph": patient_graph_iri(CODON_PATIENT)},
}


def values_clause(query: str, name: str = "") -> str:
    """Bind the inputs a query selects with a VALUES block (the SPARQL protocol and the ARQ
    command line have no bindings): the package's own with_values, one row. `name` picks a
    query's own inputs (INPUTS_BY_QUERY) where the example patient would answer nothing."""
    names = selected(query)
    inputs = INPUTS | INPUTS_BY_QUERY.get(name, {})
    return with_values(query, names, [[inputs[key] for key in names]]) if names else query


def http_rows(base: str, query: str) -> list[dict[str, str | None]]:
    import urllib.request

    request = urllib.request.Request(
        f"{base}/query", data=query.encode(), headers={"Content-Type": "application/sparql-query",
                                                        "Accept": "application/sparql-results+json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json_rows(json.load(response))


def json_rows(data: dict[str, Any]) -> list[dict[str, str | None]]:
    """Rows of a SPARQL 1.1 JSON results document."""
    names = data["head"]["vars"]
    return [{name: binding.get(name, {}).get("value") for name in names} for binding in data["results"]["bindings"]]


CONCATENATED = {"therapies", "references", "resistantTo", "susceptibleTo"}  # GROUP_CONCAT: order is open


def canonical(rows: list[dict[str, str | None]]) -> list[str]:
    from kg_builder.terms import canonical_lexical as _canonical

    def value(name: str, text: str | None) -> str:
        if text is None:
            return ""
        if name in CONCATENATED:
            return " ".join(sorted(text.split()))
        return _canonical(text, "http://www.w3.org/2001/XMLSchema#decimal")

    return sorted(json.dumps({k: value(k, v) for k, v in row.items()}, sort_keys=True) for row in rows)


def without_comments(query: str) -> str:
    return "\n".join(line for line in query.splitlines() if not line.lstrip().startswith("#"))


def selected(query: str) -> list[str]:
    """The inputs a query projects (oxigraph binds only projected variables)."""
    text = without_comments(query)
    head = text.split("WHERE", 1)[0]
    while re.search(r"\([^()]*\)", head):  # leave out expressions such as (COUNT(?patient) AS ?patients)
        head = re.sub(r"\([^()]*\)", " ", head)
    computed = set(re.findall(r"\bAS\s+\?(\w+)", text))  # outputs such as refractory.rq's ?failedToDecline
    return [name for name in INPUTS if re.search(rf"\?{name}\b", head) and name not in computed]


def in_process(name: str) -> list[dict[str, str | None]]:
    """The query's answer on the package's own engine, for the example patient."""
    text = query_text(name)
    # All of HerpesDRG, as serve and cmvrr query hold it.
    engine, _ = prepare([read_patient_file(PATIENT_FILE).graph], whole_evidence=True)
    bindings = {key: INPUTS[key] for key in selected(text)}
    try:
        return engine.select(text, bindings) if bindings or "GRAPH" in text else run_query(name)[1]
    finally:
        engine.close()
