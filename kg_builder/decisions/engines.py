"""One store, two engines: the knowledge graph and each patient in named graphs, queried with
the packaged SPARQL (docs/architecture.md, Data flow). rdflib is the reference engine, pyoxigraph the fast
one; both must give the same answers. Inputs are bound (initBindings / substitutions), never
pasted into query text."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Protocol

import pyoxigraph
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.term import Node

from ..checks.compiler import RENEW_AFTER_TRIPLES
from ..errors import CmvrrError
from ..knowledge.graph import knowledge
from ..knowledge.herpesdrg import decision_slice_ntriples
from ..knowledge.stores import load_knowledge
from ..paths import query_path
from ..terms import CMVRR, HERPESDRG_GRAPH, KNOWLEDGE_GRAPH, NUMERIC_DATATYPES, canonical_lexical, day_number, integer

Row = dict[str, str | None]
Bindings = Mapping[str, Node]

_DAY_OF = {CMVRR.measuredOn: CMVRR.day, CMVRR.startDate: CMVRR.startDay, CMVRR.endDate: CMVRR.endDay}


def _day_numbers(graph: Graph) -> Iterator[tuple[Node, URIRef, Literal]]:
    for date_property, day_property in _DAY_OF.items():
        for node, value in graph.subject_objects(date_property):
            if isinstance(value, Literal) and isinstance(value.value, datetime.date):
                yield node, day_property, integer(day_number(value.value))


def with_day_numbers(graph: Graph) -> Graph:
    """The patient graph plus a day number for every valid date: SPARQL 1.1 cannot subtract dates."""
    normalised = Graph() + graph
    for triple in _day_numbers(graph):
        normalised.add(triple)
    return normalised


def patient_ntriples(graph: Graph, written: bytes | None = None) -> bytes:
    """with_day_numbers(graph) as N-Triples, without copying the graph: what engines load.
    ``written``: the graph's N-Triples if they are at hand already."""
    extra = "".join(f"{node.n3()} {day.n3()} {number.n3()} .\n" for node, day, number in _day_numbers(graph))
    return (_ntriples(graph) if written is None else written) + extra.encode("utf-8")


_SPARQL_TOKENS = re.compile(
    r"""(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
      | (?P<string>"{3}(?:[^"\\]|\\.|"(?!""))*"{3} | '{3}(?:[^'\\]|\\.|'(?!''))*'{3}
                  | "(?:[^"\\\n\r]|\\.)*" | '(?:[^'\\\n\r]|\\.)*')
      | (?P<comment>\#[^\n\r]*)
      | (?P<word>[?$]?[A-Za-z_][\w.-]*(?::[\w.:%-]*)?)
      | (?P<other>.)""",
    re.S | re.X,
)


def refuse_federation(query: str, source: str) -> None:
    """Nothing is fetched from outside: Oxigraph runs a SERVICE clause by calling the endpoint it
    names, so a query that holds the keyword SERVICE (outside IRIs, strings, comments, variables
    and prefixed names, read as the SPARQL grammar reads them) is refused."""
    for match in _SPARQL_TOKENS.finditer(query):
        if match.lastgroup == "word" and match.group().upper() == "SERVICE":
            raise CmvrrError(f"{source}: federated queries (SERVICE) are refused: nothing is fetched from outside")


@cache
def query_text(name: str) -> str:
    return query_path(name).read_text(encoding="utf-8")


_IRI_UNSAFE = re.compile(r'[<>"{}|^`\\\x00-\x20]')
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def _sparql_term(node: Node) -> str:
    if isinstance(node, URIRef) and _IRI_UNSAFE.search(str(node)):
        raise CmvrrError(f'<{node}>: this IRI cannot be written in SPARQL; use an IRI without spaces or <>"{{}}|^`\\')
    if not isinstance(node, (URIRef, Literal)):
        raise TypeError(f"cannot bind {node!r}")
    return node.n3()


def with_values(query: str, names: Sequence[str], rows: Iterable[Sequence[Node]]) -> str:
    """The query with its inputs bound by a VALUES block opening its WHERE clause, one row per
    patient: SPARQL's own way to bind inputs (the protocol has none), so any engine runs it, and
    one run answers for many patients. A trailing VALUES would join too late for BIND and FILTER."""
    lines = [line for line in query.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines)
    where = _WHERE.search(text)
    if where is None:
        raise ValueError("the query has no WHERE clause")
    block = " ".join("(" + " ".join(_sparql_term(value) for value in row) + ")" for row in rows)
    variables = " ".join("?" + name for name in names)
    return f"{text[: where.end()]}\n  VALUES ({variables}) {{ {block} }}{text[where.end() :]}"


class Engine(Protocol):
    name: str

    def select(self, query: str, bindings: Bindings) -> list[Row]: ...

    def close(self) -> None: ...


def _lexical(node: object) -> str | None:
    if node is None:
        return None
    datatype = getattr(node, "datatype", None)
    return canonical_lexical(str(node), str(datatype) if datatype else None)


class RdflibEngine:
    """The reference engine: rdflib's SPARQL over an in-memory dataset."""

    name = "rdflib"

    def __init__(self, patients: Mapping[URIRef, bytes]) -> None:
        """``patients``: named graph IRI -> the patient's N-Triples (patient_ntriples)."""
        self.dataset = Dataset()
        target = self.dataset.graph(KNOWLEDGE_GRAPH)
        for triple in knowledge():
            target.add(triple)
            # Also in the default graph, so that queries written for the release file
            # (queries/table5-mutations.rq, ...) run unchanged.
            self.dataset.default_graph.add(triple)
        self.dataset.graph(HERPESDRG_GRAPH).parse(data=decision_slice_ntriples(), format="nt")
        for iri, data in patients.items():
            self.dataset.graph(iri).parse(data=data, format="nt")

    def close(self) -> None:
        """Nothing to release: the dataset belongs to this engine alone."""

    def select(self, query: str, bindings: Bindings) -> list[Row]:
        result = self.dataset.query(query, initBindings=dict(bindings))  # type: ignore[arg-type]
        names = [str(var) for var in result.vars or []]
        return [{name: _lexical(row[name]) for name in names} for row in result]  # type: ignore[index, call-overload]


class OxigraphEngine:
    """The fast engine: pyoxigraph's in-memory store.

    The knowledge graph is loaded once per process into a shared store; each engine adds its
    patients' named graphs to it and close() removes them again."""

    name = "oxigraph"

    def __init__(self, patients: Mapping[URIRef, bytes]) -> None:
        """``patients``: named graph IRI -> the patient's N-Triples (patient_ntriples)."""
        self._ox = pyoxigraph
        self.store = _shared_oxigraph_store()
        if _LOADED[0] >= RENEW_AFTER_TRIPLES:  # see checks.compiler.RENEW_AFTER_TRIPLES: keep the cost flat
            _shared_oxigraph_store.cache_clear()
            self.store = _shared_oxigraph_store()
            _LOADED[0] = 0
        _LOADED[0] += sum(data.count(b"\n") for data in patients.values())
        self._graphs = [pyoxigraph.NamedNode(iri) for iri in patients]
        for iri, data in patients.items():
            self.store.load(data, format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=pyoxigraph.NamedNode(iri))

    def close(self) -> None:
        for graph in self._graphs:
            self.store.remove_graph(graph)
        self._graphs = []

    def select(self, query: str, bindings: Bindings) -> list[Row]:
        substitutions = {self._ox.Variable(name): self._term(value) for name, value in bindings.items()}
        solutions = self.store.query(query, substitutions=substitutions)  # type: ignore[arg-type]
        if not isinstance(solutions, self._ox.QuerySolutions):
            raise TypeError("packaged decision queries are SELECT queries")
        names = [variable.value for variable in solutions.variables]
        return [dict(zip(names, map(ox_lexical, solution), strict=True)) for solution in solutions]

    def _term(self, node: Node) -> object:
        if isinstance(node, URIRef):
            return self._ox.NamedNode(str(node))
        if isinstance(node, Literal):
            if node.language:
                return self._ox.Literal(str(node), language=node.language)
            return self._ox.Literal(
                str(node), datatype=self._ox.NamedNode(str(node.datatype)) if node.datatype else None
            )
        raise TypeError(f"cannot bind {node!r}")


_LOADED = [0]  # patient triples loaded into the shared store since it was made


@cache
def _shared_oxigraph_store() -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    load_knowledge(store)
    return store


def ox_lexical(term: object) -> str | None:
    if term is None:
        return None
    if isinstance(term, pyoxigraph.Literal):
        datatype = term.datatype.value
        return canonical_lexical(term.value, datatype) if datatype in NUMERIC_DATATYPES else term.value
    return str(term.value)  # type: ignore[attr-defined]


def _ntriples(graph: Graph) -> bytes:
    return graph.serialize(format="nt", encoding="utf-8")


ENGINES: dict[str, type[RdflibEngine] | type[OxigraphEngine]] = {"rdflib": RdflibEngine, "oxigraph": OxigraphEngine}


__all__ = [
    "ENGINES",
    "Bindings",
    "Engine",
    "OxigraphEngine",
    "RdflibEngine",
    "Row",
    "ox_lexical",
    "patient_ntriples",
    "query_text",
    "refuse_federation",
    "with_day_numbers",
    "with_values",
]
