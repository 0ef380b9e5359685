"""One store, two engines: the knowledge graph and each patient in named graphs, queried with
the packaged SPARQL (docs/architecture.md, Data flow). rdflib is the reference engine, pyoxigraph the fast
one; both must give the same answers. Inputs are bound (initBindings / substitutions), never
pasted into query text."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol

import pyoxigraph
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from ..checks.compiler import RENEW_AFTER_TRIPLES
from ..errors import CmvrrError
from ..knowledge.graph import knowledge
from ..knowledge.herpesdrg import decision_slice_ntriples, evidence_ntriples
from ..knowledge.stores import load_knowledge
from ..paths import query_path
from ..patients.ntriples import Triple, joined, reachable, split_triples
from ..patients.readers import PatientInput
from ..terms import CMVRR, HERPESDRG_GRAPH, KNOWLEDGE_GRAPH, NUMERIC_DATATYPES, canonical_lexical, day_number

Row = dict[str, str | None]
Bindings = Mapping[str, Node]

_DAYS = ((CMVRR.measuredOn, CMVRR.day), (CMVRR.startDate, CMVRR.startDay), (CMVRR.endDate, CMVRR.endDay))
_DAY_OF = {f"<{date}>": f"<{day}>" for date, day in _DAYS}  # as N-Triples terms
_DATE_SUFFIX = f'"^^<{XSD.date}>'
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_value(term: str) -> datetime.date | None:
    """The date an xsd:date literal term holds, as rdflib reads it; None for any other term or
    an ill-typed date (2025-02-30), which the shapes report and the timeline never sees."""
    if not term.endswith(_DATE_SUFFIX) or "\\" in term:
        return None
    lexical = term[1 : -len(_DATE_SUFFIX)]
    if _PLAIN_DATE.fullmatch(lexical):  # the JSON record's only form: no need of rdflib
        try:
            return datetime.date.fromisoformat(lexical)
        except ValueError:
            return None
    value = Literal(lexical, datatype=XSD.date).value  # time zones and the like, as rdflib reads them
    return value if isinstance(value, datetime.date) else None


def day_number_triples(triples: Iterable[Triple]) -> list[Triple]:
    """A day number for every valid date of the patient's data: SPARQL 1.1 cannot subtract dates."""
    found = []
    for subject, predicate, value in triples:
        if predicate in _DAY_OF and (day := _date_value(value)) is not None:
            found.append((subject, _DAY_OF[predicate], f'"{day_number(day)}"^^<{XSD.integer}>'))
    return found


def with_day_numbers(graph: Graph) -> Graph:
    """The patient graph plus a day number for every valid date (day_number_triples)."""
    normalised = Graph() + graph
    days = joined(day_number_triples(split_triples(graph.serialize(format="nt", encoding="utf-8"))))
    return normalised.parse(data=days.decode("utf-8"), format="nt")


def patient_data(item: PatientInput) -> dict[str, bytes]:
    """Each patient of the input and what an engine loads for it: its own data, the whole input
    when it holds one patient, else what the patient reaches (never the other patients' data: a
    list of N records would cost N times N), with its day numbers."""
    if len(item.patients) == 1:
        return {item.patients[0]: item.ntriples + joined(day_number_triples(item.triples))}
    own = {patient: reachable(item.triples, patient) for patient in item.patients}
    return {patient: joined(triples) + joined(day_number_triples(triples)) for patient, triples in own.items()}


def patient_ntriples(graph: Graph) -> bytes:
    """The one patient of ``graph`` as an engine loads it (patient_data)."""
    [data] = patient_data(PatientInput(Path("<graph>"), graph)).values()
    return data


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


@lru_cache(maxsize=1 << 14)
def _sparql_term(node: Node) -> str:
    """A bound input as SPARQL writes it; cached: a chunk binds the same patients in every query."""
    if isinstance(node, URIRef) and _IRI_UNSAFE.search(str(node)):
        raise CmvrrError(f'<{node}>: this IRI cannot be written in SPARQL; use an IRI without spaces or <>"{{}}|^`\\')
    if not isinstance(node, (URIRef, Literal)):
        raise TypeError(f"cannot bind {node!r}")
    return node.n3()


def with_values(query: str, names: Sequence[str], rows: Iterable[Sequence[Node]]) -> str:
    """The query with its inputs bound by a VALUES block opening its WHERE clause, one row per
    patient: SPARQL's own way to bind inputs (the protocol has none), so any engine runs it, and
    one run answers for many patients. A trailing VALUES would join too late for BIND and FILTER."""
    return with_values_block(query, names, values_block(rows))


def values_block(rows: Iterable[Sequence[Node]]) -> str:
    """The rows of a VALUES block, as SPARQL writes them: (<p1> <g1>) (<p2> <g2>) ..."""
    return " ".join("(" + " ".join(_sparql_term(value) for value in row) + ")" for row in rows)


def with_values_block(query: str, names: Sequence[str], block: str) -> str:
    """with_values of rows already written (values_block): the same block serves many queries."""
    head, tail = _split_at_where(query)
    variables = " ".join("?" + name for name in names)
    return f"{head}\n  VALUES ({variables}) {{ {block} }}{tail}"


@lru_cache(maxsize=256)
def _split_at_where(query: str) -> tuple[str, str]:
    """The query without comment lines, split after its WHERE clause's opening brace."""
    text = "\n".join(line for line in query.splitlines() if not line.lstrip().startswith("#"))
    where = _WHERE.search(text)
    if where is None:
        raise ValueError("the query has no WHERE clause")
    return text[: where.end()], text[where.end() :]


class Engine(Protocol):
    name: str

    def select(self, query: str, bindings: Bindings) -> list[Row]: ...

    def close(self) -> None: ...


def rdflib_lexical(node: object) -> str | None:
    """An rdflib answer's lexical form, numbers spelled one way (canonical_lexical)."""
    if node is None:
        return None
    datatype = getattr(node, "datatype", None)
    return canonical_lexical(str(node), str(datatype) if datatype else None)


def reference_dataset(whole_evidence: bool = False) -> Dataset:
    """The knowledge in an rdflib dataset, as the reference engine queries it; of the second
    source, the calls that change a decision, or with ``whole_evidence`` all it holds."""
    dataset = Dataset()
    target = dataset.graph(KNOWLEDGE_GRAPH)
    for triple in knowledge():
        target.add(triple)
        # Also in the default graph, so that queries written for the release file
        # (queries/table5-mutations.rq, ...) run unchanged.
        dataset.default_graph.add(triple)
    evidence = evidence_ntriples() if whole_evidence else decision_slice_ntriples()
    dataset.graph(HERPESDRG_GRAPH).parse(data=evidence, format="nt")
    return dataset


class RdflibEngine:
    """The reference engine: rdflib's SPARQL over an in-memory dataset."""

    name = "rdflib"

    def __init__(self, patients: Mapping[URIRef, bytes], whole_evidence: bool = False) -> None:
        """``patients``: named graph IRI -> the patient's N-Triples (patient_data);
        ``whole_evidence``: all of the second source, not only what decides (cmvrr query)."""
        self.dataset = reference_dataset(whole_evidence)
        for iri, data in patients.items():
            self.dataset.graph(iri).parse(data=data, format="nt")

    def close(self) -> None:
        """Nothing to release: the dataset belongs to this engine alone."""

    def select(self, query: str, bindings: Bindings) -> list[Row]:
        result = self.dataset.query(query, initBindings=dict(bindings))  # type: ignore[arg-type]
        names = [str(var) for var in result.vars or []]
        return [{name: rdflib_lexical(row[name]) for name in names} for row in result]  # type: ignore[index, call-overload]


class OxigraphEngine:
    """The fast engine: pyoxigraph's in-memory store.

    The knowledge graph is loaded once per process into a shared store; each engine adds its
    patients' named graphs to it and close() removes them again. The store holds what the
    decision queries read, or with ``whole_evidence`` all of the second source (cmvrr query,
    whose source-conflicts.rq reads measurements): knowledge.stores.load_knowledge."""

    name = "oxigraph"

    def __init__(self, patients: Mapping[URIRef, bytes], whole_evidence: bool = False) -> None:
        """``patients``: named graph IRI -> the patient's N-Triples (patient_ntriples)."""
        self._ox = pyoxigraph
        self.store = _shared_store(whole_evidence, sum(data.count(b"\n") for data in patients.values()))
        self._graphs = [pyoxigraph.NamedNode(iri) for iri in patients]
        self._lexical = _Lexical()  # this engine's answers repeat the same terms, row after row
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
        names, lexical = [variable.value for variable in solutions.variables], self._lexical.__getitem__
        return [dict(zip(names, map(lexical, solution), strict=True)) for solution in solutions]

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


_SHARED: dict[bool, tuple[pyoxigraph.Store, list[int]]] = {}  # kind -> store, patient triples it took


def _shared_store(whole_evidence: bool, adding: int) -> pyoxigraph.Store:
    """The process's store of the knowledge (the decision slice, or with ``whole_evidence`` all of
    it), made anew once it has taken RENEW_AFTER_TRIPLES patient triples (checks.compiler: keep
    the cost flat); each kind counts its own, so that one's renewal leaves the other."""
    shared = _SHARED.get(whole_evidence)
    if shared is None or shared[1][0] >= RENEW_AFTER_TRIPLES:
        store = pyoxigraph.Store()
        load_knowledge(store, whole_evidence)
        shared = _SHARED[whole_evidence] = (store, [0])
    shared[1][0] += adding
    return shared[0]


def ox_lexical(term: object) -> str | None:
    """An Oxigraph answer's lexical form, numbers spelled one way (canonical_lexical)."""
    if type(term) is _OX_LITERAL:
        lexical, datatype = term.value, term.datatype.value
        return _number_lexical(lexical, datatype) if datatype in NUMERIC_DATATYPES else lexical
    return None if term is None else term.value  # type: ignore[attr-defined]  # an IRI's or a blank node's text


_OX_LITERAL = pyoxigraph.Literal


class _Lexical(dict[object, str | None]):
    """ox_lexical of each term once: a lookup (the term's hash and equality are Oxigraph's) is
    cheaper than a conversion, and a chunk's answers name the same IRIs over and over."""

    def __missing__(self, term: object) -> str | None:
        self[term] = value = ox_lexical(term)
        return value


@lru_cache(maxsize=1 << 16)
def _number_lexical(lexical: str, datatype: str) -> str:
    """canonical_lexical, once per number: a batch's answers repeat the same few thousand."""
    return canonical_lexical(lexical, datatype)


ENGINES: dict[str, type[RdflibEngine] | type[OxigraphEngine]] = {"rdflib": RdflibEngine, "oxigraph": OxigraphEngine}


__all__ = [
    "ENGINES",
    "Bindings",
    "Engine",
    "OxigraphEngine",
    "RdflibEngine",
    "Row",
    "day_number_triples",
    "ox_lexical",
    "patient_data",
    "patient_ntriples",
    "query_text",
    "rdflib_lexical",
    "reference_dataset",
    "refuse_federation",
    "values_block",
    "with_day_numbers",
    "with_values",
    "with_values_block",
]
