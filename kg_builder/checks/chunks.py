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

from ..patients.ntriples import Triple
from ..patients.readers import PatientInput

CHUNK_SIZE = 250  # patients per store: large enough to share the fixed cost of a query run


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
        self.described: dict[str, frozenset[tuple[str, str]]] = {}
        self.foreign_prefixes: set[str] = set()

    def admit(self, index: int, own: Sequence[str], triples: Sequence[Triple]) -> bool:
        """Add the input (its patients' IRIs, its triples) if it cannot see, or be seen by, the
        members already here. Works on the N-Triples terms: <iri>, _:label, literals."""
        if any(owner(root, self.roots) or root in self.foreign_prefixes for root in own):
            return False
        if any(owner(root, set(own) - {root}) for root in own):  # nested patients within one input
            return False
        descriptions: dict[str, set[tuple[str, str]]] = {}
        mine: dict[str, bool] = {}  # IRI term -> lies under one of this input's own patients
        roots, under = set(own), tuple(f"{root}/" for root in own)
        for subject, predicate, value in triples:
            for node in (subject, value):
                if node in mine or node[0] == '"':  # a literal: nobody's node
                    continue
                if node[0] == "_":
                    return False
                iri = node[1:-1]
                mine[node] = iri in roots or iri.startswith(under)
                if not mine[node]:
                    descriptions[iri] = set()
            if not mine[subject]:
                descriptions[subject[1:-1]].add((predicate, value))
        for iri, description in descriptions.items():
            known = self.described.get(iri)
            # A node described here already lies under no member's root, nor can a later one's
            # (a root among foreign_prefixes is refused above): only a new node needs the walk.
            if (known is None and owner(iri, self.roots)) or (known is not None and known != description):
                return False
        self.members.append(index)
        self.roots.update(own)
        for iri, description in descriptions.items():
            if iri not in self.described:
                self.described[iri] = frozenset(description)
                self.foreign_prefixes.update(_prefixes(iri))
        return True


def isolated_chunks(inputs: Sequence[PatientInput], size: int = CHUNK_SIZE) -> list[list[int]]:
    """Indexes of ``inputs`` in chunks that may share a store, in input order."""
    chunks: list[list[int]] = []
    current = _Chunk()
    for index, item in enumerate(inputs):
        own, triples = item.patients, item.triples
        if len(current.members) >= size or not current.admit(index, own, triples):
            if current.members:
                chunks.append(current.members)
            current = _Chunk()
            if not current.admit(index, own, triples):  # blank nodes, or patients nested in one input: alone
                chunks.append([index])
                current = _Chunk()
    if current.members:
        chunks.append(current.members)
    return chunks


__all__ = ["CHUNK_SIZE", "isolated_chunks", "owner"]
