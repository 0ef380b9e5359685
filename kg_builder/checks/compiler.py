"""The patient shapes compiled to SPARQL and run in Oxigraph: the fast validator.

pyshacl stays the reference; tests/test_fast_validation.py proves that this validator reports
the same results on every fixture and on thousands of generated patients. Only the SHACL
features the patient shapes use are compiled; any other feature is refused, never skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH, XSD
from rdflib.term import Node

from ..errors import CmvrrError
from ..terms import canonical_lexical, number_text

_CAST = {XSD.date: "xsd:date", XSD.decimal: "xsd:decimal", XSD.integer: "xsd:integer", XSD.boolean: "xsd:boolean"}
_COMPARISON = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">", SH.maxExclusive: "<"}
# What the compiler does with each SHACL parameter (after pySHACL's registry of constraint
# parameters, pyshacl/constraints/__init__.py): on a property shape, COMPILED parameters become
# checks; DESCRIPTIVE ones change no result. On a node shape, NODE_SHAPE parameters are read.
# Every other sh: parameter, at either level, is refused with its name: never skipped.
COMPILED = frozenset({
    SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.minInclusive, SH.maxInclusive,
    SH.minExclusive, SH.maxExclusive, SH.pattern, SH["in"], SH.lessThanOrEquals,
})  # fmt: skip
DESCRIPTIVE = frozenset({SH.path, SH.message, SH.name, SH.description, SH.order, SH.group})
NODE_SHAPE = frozenset({SH.targetClass, SH.targetObjectsOf, SH.property, SH.sparql, SH.severity, SH.message,
                        SH.name, SH.description})  # fmt: skip
SPARQL_CONSTRAINT = frozenset({SH.select, SH.message, SH.prefixes})
TARGETS = frozenset({SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf, SH.target})
_PREFIXES = (
    "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
)


@dataclass(frozen=True)
class Check:
    """One compiled constraint: a SELECT whose rows are results (?this, ?value, template vars)."""

    query: str
    severity: URIRef
    path: URIRef | None
    message: str
    value: str  # what the result's sh:value is: "value" (?value), "focus" (sh:sparql) or "none" (counts)


def _n3(node: Node) -> str:
    return node.n3()


def _path(graph: Graph, path: Node) -> str:
    if isinstance(path, URIRef):
        return _n3(path)
    if isinstance(path, BNode) and (path, RDF.first, None) in graph:
        return "/".join(_path(graph, step) for step in Collection(graph, path))
    raise CmvrrError(f"fast validator: unsupported sh:path {path!r}")


def _targets(graph: Graph, shape: Node) -> list[str]:
    patterns = [f"?this rdf:type/rdfs:subClassOf* {_n3(cls)} ." for cls in graph.objects(shape, SH.targetClass)]
    patterns += [f"?targetSubject {_n3(p)} ?this ." for p in graph.objects(shape, SH.targetObjectsOf)]
    return patterns


def _shacl_parameters(shapes: Graph, node: Node) -> set[URIRef]:
    return {p for p in shapes.predicates(node) if isinstance(p, URIRef) and p.startswith(str(SH))}


def refusals(shapes: Graph) -> list[str]:
    """Why the compiler cannot take these shapes: one line per form it does not compile."""
    found = []
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    for shape in sorted(set(shapes.subjects(RDF.type, SH.PropertyShape)), key=str):
        if any(shapes.triples((shape, target, None)) for target in TARGETS):
            found.append(f"top-level sh:PropertyShape (a property shape with targets) on {shape}")
    with_targets = {s for target in TARGETS for s in shapes.subjects(target, None)}
    for shape in sorted(with_targets - node_shapes - set(shapes.subjects(RDF.type, SH.PropertyShape)), key=str):
        found.append(f"shape without rdf:type sh:NodeShape that has targets on {shape}")
    for shape in sorted(node_shapes, key=str):
        for parameter in sorted(_shacl_parameters(shapes, shape) - NODE_SHAPE):
            found.append(f"{_curie(parameter)} on node shape {shape}")
        for prop in shapes.objects(shape, SH.property):
            for parameter in sorted(_shacl_parameters(shapes, prop) - COMPILED - DESCRIPTIVE):
                found.append(f"{_curie(parameter)} on property shape {prop} of {shape}")
            if shapes.value(prop, SH.path) is None:
                found.append(f"property shape without sh:path ({prop}) of {shape}")
        for constraint in shapes.objects(shape, SH.sparql):
            for parameter in sorted(_shacl_parameters(shapes, constraint) - SPARQL_CONSTRAINT):
                found.append(f"{_curie(parameter)} on SPARQL constraint {constraint} of {shape}")
    return found


def _curie(iri: URIRef) -> str:
    return "sh:" + iri.removeprefix(str(SH))


def compile_shapes(shapes: Graph) -> list[Check]:
    """Every shape's checks as SPARQL; shapes with any form the compiler does not compile are
    refused as a whole (CmvrrError naming each form), never compiled in part."""
    refused = refusals(shapes)
    if refused:
        raise CmvrrError("fast validator: unsupported SHACL: " + "; ".join(refused))
    checks: list[Check] = []
    for shape in sorted(set(shapes.subjects(RDF.type, SH.NodeShape)), key=str):
        severity = shapes.value(shape, SH.severity) or SH.Violation
        for target in _targets(shapes, shape):
            for prop in shapes.objects(shape, SH.property):
                checks += _property_checks(shapes, prop, target, URIRef(str(severity)))
            for constraint in shapes.objects(shape, SH.sparql):
                checks.append(_sparql_check(shapes, constraint, target, URIRef(str(severity))))
    return checks


def _message(shapes: Graph, node: Node) -> str:
    message = shapes.value(node, SH.message)
    return str(message) if message is not None else "does not conform"


def _property_checks(shapes: Graph, prop: Node, target: str, severity: URIRef) -> Iterator[Check]:
    path_node = shapes.value(prop, SH.path)
    if path_node is None:
        raise CmvrrError(f"fast validator: a property shape without sh:path ({prop})")
    path, message = _path(shapes, path_node), _message(shapes, prop)
    result_path = path_node if isinstance(path_node, URIRef) else None
    head = f"{_PREFIXES}SELECT DISTINCT ?this ?value WHERE {{ {target} ?this {path} ?value . "

    def check(condition: str) -> Check:
        return Check(head + f"FILTER({condition}) }}", severity, result_path, message, "value")

    for count, operator in ((shapes.value(prop, SH.minCount), "<"), (shapes.value(prop, SH.maxCount), ">")):
        if count is not None:
            query = (
                f"{_PREFIXES}SELECT ?this WHERE {{ {target} OPTIONAL {{ ?this {path} ?value }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) {operator} {int(str(count))})"
            )
            yield Check(query, severity, result_path, message, "none")
    datatype = shapes.value(prop, SH.datatype)
    if datatype is not None:
        if datatype == RDF.langString:
            yield check('!(isLiteral(?value) && LANG(?value) != "")')
        else:
            valid = f" && isLiteral({_CAST[URIRef(str(datatype))]}(STR(?value)))" if datatype in _CAST else ""
            yield check(f"!COALESCE(isLiteral(?value) && DATATYPE(?value) = {_n3(datatype)}{valid}, false)")
    cls = shapes.value(prop, SH["class"])
    if cls is not None:
        yield check(f"NOT EXISTS {{ ?value rdf:type/rdfs:subClassOf* {_n3(cls)} }}")
    for component, operator in _COMPARISON.items():
        bound = shapes.value(prop, component)
        if bound is not None:
            yield check(f"!COALESCE(?value {operator} {_n3(bound)}, false)")
    pattern = shapes.value(prop, SH.pattern)
    if pattern is not None:
        yield check(f"!COALESCE(REGEX(STR(?value), {Literal(str(pattern)).n3()}), false)")
    members = shapes.value(prop, SH["in"])
    if members is not None:
        yield check(f"?value NOT IN ({', '.join(_n3(m) for m in Collection(shapes, members))})")
    other = shapes.value(prop, SH.lessThanOrEquals)
    if other is not None:
        query = head + f"?this {_n3(other)} ?other . FILTER(!COALESCE(?value <= ?other, false)) }}"
        yield Check(query, severity, result_path, message, "value")


def _sparql_check(shapes: Graph, constraint: Node, target: str, severity: URIRef) -> Check:
    select = str(shapes.value(constraint, SH.select)).replace("$this", "?this")
    prefixes = "".join(
        f"PREFIX {shapes.value(declaration, SH.prefix)}: <{shapes.value(declaration, SH.namespace)}>\n"
        for owner in shapes.objects(constraint, SH.prefixes)
        for declaration in shapes.objects(owner, SH.declare)
    )
    where = select.index("{", select.upper().index("WHERE"))
    query = _PREFIXES + prefixes + select[: where + 1] + f" {target} " + select[where + 1 :]
    return Check(query, severity, None, _message(shapes, constraint), "focus")


def checks_json(checks: Sequence[Check]) -> bytes:
    """Compiled checks as JSON: what a process caches on disk instead of parsing the shapes with
    rdflib and compiling them again (55 ms of a cold start)."""
    return json.dumps([[c.query, str(c.severity), str(c.path) if c.path else None, c.message, c.value]
                       for c in checks]).encode("utf-8")  # fmt: skip


def checks_from_json(data: bytes) -> list[Check]:
    return [Check(query, URIRef(severity), URIRef(path) if path else None, message, value)
            for query, severity, path, message, value in json.loads(data)]  # fmt: skip


def render(template: str, row: dict[str, str | None]) -> str:
    """Fill SHACL message templates ({?var}) the way pyshacl does."""
    return re.sub(r"\{[?$](\w+)\}", lambda match: row.get(match.group(1)) or "", template)


# An in-memory Oxigraph store keeps some cost of every graph added and removed (validation time
# crept from 12 to 21 ms per patient over 2,000 patients; decision queries slowed 7-fold after a
# few chunks of 300); starting a fresh store after this many patient triples keeps the cost flat.
RENEW_AFTER_TRIPLES = 15_000  # about 250 patients


class FastValidator:
    """An Oxigraph store holding the knowledge-graph slice once; each patient graph is added to a
    named graph of its own, checked with the knowledge graph as the union default graph, and removed."""

    def __init__(self, context: bytes, checks: Sequence[Check]) -> None:
        import pyoxigraph

        self._ox = pyoxigraph
        self.context_graph = pyoxigraph.NamedNode("https://w3id.org/cmv-rr/graph/validation-context")
        self._context = context  # N-Triples of the knowledge-graph slice
        self.checks = list(checks)  # compile_shapes' output, or checks_from_json of its cache
        self._count = 0
        self._fresh_store()

    def _fresh_store(self) -> None:
        self._loaded = 0
        self.store = self._ox.Store()
        self.store.load(self._context, format=self._ox.RdfFormat.N_TRIPLES, to_graph=self.context_graph)

    def results(self, data: bytes) -> Iterator[tuple[str, str, str, str, str]]:
        """(severity, focus, path, message, value) for every result over ``data`` (N-Triples), like
        a SHACL report."""
        self._count += 1
        if self._loaded >= RENEW_AFTER_TRIPLES:
            self._fresh_store()
        self._loaded += data.count(b"\n")
        patient_graph = self._ox.NamedNode(f"https://w3id.org/cmv-rr/graph/validating/{self._count}")
        self.store.load(data, format=self._ox.RdfFormat.N_TRIPLES, to_graph=patient_graph)
        try:
            for check in self.checks:
                solutions = self.store.query(check.query, default_graph=[self.context_graph, patient_graph])
                names = [variable.value for variable in solutions.variables]  # type: ignore[union-attr]
                for solution in solutions:  # type: ignore[union-attr]
                    row = {name: _text(solution[name]) for name in names}
                    shown = {name: _shown(solution[name]) for name in names}
                    focus = row["this"] or ""
                    value = {"value": row.get("value"), "focus": focus, "none": ""}[check.value]
                    yield (
                        str(check.severity),
                        focus,
                        str(check.path) if check.path else "",
                        render(check.message, shown),
                        value or "",
                    )
        finally:
            self.store.remove_graph(patient_graph)


def _shown(term: object) -> str | None:
    """A term as pyshacl writes it into messages: decimals in XSD canonical form (600.0)."""
    datatype = getattr(term, "datatype", None)
    if datatype is not None and datatype.value == str(XSD.decimal):
        return number_text(str(term.value), "xsd")  # type: ignore[attr-defined]
    return _text(term)


def _text(term: object) -> str | None:
    if term is None:
        return None
    datatype = getattr(term, "datatype", None)
    return canonical_lexical(str(term.value), datatype.value if datatype is not None else None)  # type: ignore[attr-defined]


__all__ = [
    "COMPILED",
    "DESCRIPTIVE",
    "NODE_SHAPE",
    "RENEW_AFTER_TRIPLES",
    "SPARQL_CONSTRAINT",
    "Check",
    "FastValidator",
    "checks_from_json",
    "checks_json",
    "compile_shapes",
    "refusals",
    "render",
]
