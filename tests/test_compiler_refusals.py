"""The SHACL->SPARQL compiler refuses every form it does not compile, at every level, naming the
form (docs/architecture.md, Checks): a shape it compiled in part would pass patients that
pySHACL rejects."""

from __future__ import annotations

import pytest
from rdflib import Graph

from kg_builder.checks.compiler import compile_shapes, refusals
from kg_builder.checks.validate import patient_shapes
from kg_builder.errors import CmvrrError

PREFIXES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <urn:ex:> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
NODE = "ex:S a sh:NodeShape ; sh:targetClass ex:C ; "
PROPERTY = NODE + "sh:property [ sh:path ex:p ; "
SUPPORTED = PROPERTY + "sh:minCount 1 ] ."

# (form as the refusal names it, the shapes that use it)
UNSUPPORTED = [
    ("sh:closed", NODE + "sh:closed true ."),
    ("sh:nodeKind", NODE + "sh:nodeKind sh:IRI ."),
    ("sh:or", NODE + "sh:or ( ex:A ex:B ) ."),
    ("sh:deactivated", NODE + "sh:deactivated true ."),
    ("sh:targetNode", "ex:S a sh:NodeShape ; sh:targetNode ex:n ."),
    ("sh:targetSubjectsOf", "ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ."),
    ("top-level sh:PropertyShape", "ex:P a sh:PropertyShape ; sh:targetClass ex:C ; sh:path ex:p ; sh:minCount 1 ."),
    ("without rdf:type sh:NodeShape", "ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minCount 1 ] ."),
    ("sh:minLength", PROPERTY + "sh:minLength 2 ] ."),
    ("sh:hasValue", PROPERTY + "sh:hasValue 1 ] ."),
    ("sh:node", PROPERTY + "sh:node ex:T ] ."),
    ("sh:deactivated", PROPERTY + "sh:deactivated true ] ."),
    ("sh:severity", PROPERTY + "sh:severity sh:Info ] ."),
    ("without sh:path", NODE + "sh:property [ sh:minCount 1 ] ."),
    ("sh:deactivated", NODE + 'sh:sparql [ sh:select "SELECT $this WHERE {}" ; sh:deactivated true ] .'),
]  # fmt: skip


def shapes(turtle: str) -> Graph:
    return Graph().parse(data=PREFIXES + turtle, format="turtle")


def test_the_supported_form_compiles() -> None:
    assert refusals(shapes(SUPPORTED)) == []
    assert len(compile_shapes(shapes(SUPPORTED))) == 1


def test_the_package_shapes_compile_without_refusal() -> None:
    assert refusals(patient_shapes()) == []


IDS = [f"{form}-{number}" for number, (form, _) in enumerate(UNSUPPORTED)]


@pytest.mark.parametrize(("form", "turtle"), UNSUPPORTED, ids=IDS)
def test_an_unsupported_form_is_refused_by_name(form: str, turtle: str) -> None:
    with pytest.raises(CmvrrError, match=form.replace("(", r"\(")):
        compile_shapes(shapes(SUPPORTED + "\n" + turtle.replace("ex:S ", "ex:S2 ")))
