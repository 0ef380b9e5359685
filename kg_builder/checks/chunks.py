"""Which patients may share one store.

Batch mode validates and decides for a chunk of patients at once: one run of each check and
query for all of them instead of one per patient. That gives each patient the answer of a run of
its own only if no patient can see another's data, so a chunk admits an input only when

- its graph has no blank nodes (their labels are not stable across inputs),
- its patients' IRIs are new to the chunk, and none lies under another's (``P`` owns ``P/...``),
- every node it names outside its own patients (a gene, a drug, a mutation it describes) is
  described exactly as the chunk's other inputs describe it, and lies under no other patient.

An input that does not fit starts the next chunk; a chunk of one is simply a single run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rdflib import BNode, Graph, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from ..terms import CMVRR

CHUNK_SIZE = 250  # patients per store: large enough to share the fixed cost of a query run


def patients_of(graph: Graph) -> set[str]:
    return {str(patient) for patient in graph.subjects(RDF.type, CMVRR.Patient)}


def patient_subgraph(graph: Graph, patient: str) -> Graph:
    """One patient's own data in an input that may hold several: every triple about a node
    reachable from the patient (a store gives each patient a graph of its own, never the file's)."""
    own = Graph()
    seen: set[Node] = {URIRef(patient)}
    stack: list[Node] = [URIRef(patient)]
    while stack:
        for triple in graph.triples((stack.pop(), None, None)):
            own.add(triple)
            value = triple[2]
            if isinstance(value, (URIRef, BNode)) and value not in seen:
                seen.add(value)
                stack.append(value)
    return own


def _prefixes(iri: str) -> Iterable[str]:
    """The IRI and every leading part of it that ends before a '/'."""
    yield iri
    end = iri.find("/")
    while end != -1:
        yield iri[:end]
        end = iri.find("/", end + 1)


def owner(iri: str, roots: set[str] | dict[str, int]) -> str | None:
    """The patient IRI among ``roots`` that ``iri`` is or lies under (P or P/...), if any."""
    return next((prefix for prefix in _prefixes(iri) if prefix in roots), None)


class _Chunk:
    def __init__(self) -> None:
        self.members: list[int] = []
        self.roots: set[str] = set()
        self.described: dict[str, frozenset[tuple[object, object]]] = {}
        self.foreign_prefixes: set[str] = set()

    def admit(self, index: int, graph: Graph) -> bool:
        """Add the input if it cannot see, or be seen by, the members already here."""
        own = patients_of(graph)
        if any(owner(root, self.roots) or root in self.foreign_prefixes for root in own):
            return False
        if any(owner(root, own - {root}) for root in own):  # nested patients within one input
            return False
        descriptions: dict[str, set[tuple[object, object]]] = {}
        mine: dict[Node, bool] = {}  # IRI -> lies under one of this input's own patients
        for subject, predicate, value in graph:
            for node in (subject, value):
                if isinstance(node, BNode):
                    return False
                if isinstance(node, URIRef) and node not in mine:
                    mine[node] = any(node == root or node.startswith(root + "/") for root in own)
                    if not mine[node]:
                        descriptions[str(node)] = set()
            if not mine[subject]:
                descriptions[str(subject)].add((predicate, value))
        for iri, description in descriptions.items():
            known = self.described.get(iri)
            if (known is not None and known != description) or owner(iri, self.roots):
                return False
        self.members.append(index)
        self.roots |= own
        for iri, description in descriptions.items():
            self.described.setdefault(iri, frozenset(description))
            self.foreign_prefixes.update(_prefixes(iri))
        return True


def isolated_chunks(graphs: Sequence[Graph], size: int = CHUNK_SIZE) -> list[list[int]]:
    """Indexes of ``graphs`` in chunks that may share a store, in input order."""
    chunks: list[list[int]] = []
    current = _Chunk()
    for index, graph in enumerate(graphs):
        if len(current.members) >= size or not current.admit(index, graph):
            if current.members:
                chunks.append(current.members)
            current = _Chunk()
            if not current.admit(index, graph):  # blank nodes, or patients nested in one input: alone
                chunks.append([index])
                current = _Chunk()
    if current.members:
        chunks.append(current.members)
    return chunks


__all__ = ["CHUNK_SIZE", "isolated_chunks", "owner", "patient_subgraph", "patients_of"]
