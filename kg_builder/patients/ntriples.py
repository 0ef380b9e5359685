"""Patient data as N-Triples lines, read without rdflib: what the batch path needs to know of an
input (its patients, the nodes it names, what each patient reaches) for the cost of splitting
lines. Every input has its N-Triples (a JSON record is written straight to them; an RDF file is
parsed by rdflib and serialized), so one reading serves all formats.

A term keeps its N-Triples spelling: ``<iri>``, ``_:label``, ``"lexical"^^<datatype>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rdflib.namespace import RDF

from ..terms import CMVRR

Triple = tuple[str, str, str]

_PATIENT = (f"<{RDF.type}>", f"<{CMVRR.Patient}>")


def split_triples(ntriples: bytes) -> list[Triple]:
    """The triples of N-Triples text as written by record.py or rdflib (one triple a line; only
    "\\n" ends a line, as a literal may hold other line separators raw)."""
    triples = []
    for line in ntriples.decode("utf-8").split("\n"):
        if line and not line.startswith("#"):
            subject, predicate, rest = line.split(" ", 2)
            triples.append((subject, predicate, rest.removesuffix(" .").rstrip()))
    return triples


def joined(triples: Iterable[Triple]) -> bytes:
    return "".join(f"{subject} {predicate} {value} .\n" for subject, predicate, value in triples).encode("utf-8")


def patients_in(triples: Iterable[Triple]) -> list[str]:
    """The IRIs of the input's cmvrr:Patient nodes, sorted."""
    return sorted({s[1:-1] for s, p, o in triples if (p, o) == _PATIENT and s.startswith("<")})


def reachable(triples: Sequence[Triple], root: str, through_blank: bool = True) -> list[Triple]:
    """Every triple about a node reachable from ``root`` (an IRI), following objects that are IRIs
    (and blank nodes, with ``through_blank``): one patient's own data in an input that may hold
    several."""
    about: dict[str, list[Triple]] = defaultdict(list)
    for triple in triples:
        about[triple[0]].append(triple)
    start = f"<{root}>"
    seen, stack, found = {start}, [start], []
    while stack:
        for triple in about.get(stack.pop(), ()):
            found.append(triple)
            value = triple[2]
            if value not in seen and (value[0] == "<" or (through_blank and value[0] == "_")):
                seen.add(value)
                stack.append(value)
    return found


def owners(triples: Sequence[Triple], patients: Iterable[str]) -> dict[str, list[str]]:
    """Which patients each IRI belongs to (every IRI reachable from the patient through IRIs)."""
    found: dict[str, list[str]] = defaultdict(list)
    for patient in patients:
        found[patient].append(patient)
        nodes = {value for _, _, value in reachable(triples, patient, through_blank=False) if value[0] == "<"}
        for node in nodes - {f"<{patient}>"}:
            found[node[1:-1]].append(patient)
    return found


__all__ = ["Triple", "joined", "owners", "patients_in", "reachable", "split_triples"]
