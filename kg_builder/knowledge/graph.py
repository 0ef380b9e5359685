"""THE one checked build of the knowledge graph: the curated tables checked by every curation
rule (cross-column rules included), turned into individuals, merged with the two ontology
modules into the release graph. cmvrr build writes it; validation, the decision engines and
cmvrr serve load it; nothing else builds a knowledge graph (docs/architecture.md, Knowledge).

The fast path never builds it: its N-Triples are cached on disk (../cache.py), keyed by every
input of the build.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph

from ..cache import cached_bytes
from ..errors import CmvrrError
from ..paths import CMV_MODULE, CORE_MODULE
from ..terms import CMV_ONTOLOGY, CMVRR, CORE_ONTOLOGY, OWL, PREFIXES, RDF, RDFS


def parse_module(path: Path) -> Graph:
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except Exception as error:  # rdflib raises several unrelated types for bad Turtle
        raise CmvrrError(f"{path}: not valid Turtle: {error}") from error
    return graph


def release_graph() -> Graph:
    """The whole release as one self-contained ontology (the core is merged, not imported)."""
    # Imported here: a process on the fast path reads the cached N-Triples and never builds.
    from .build import knowledge_graph
    from .tables import check_mutations, check_table4, load_tables

    tables = load_tables()
    check_mutations(tables)
    check_table4(tables)
    merged = parse_module(CORE_MODULE) + parse_module(CMV_MODULE) + knowledge_graph(tables)
    # One file, one ontology: the core's header and the import of it give way to a note, so
    # that tools which follow owl:imports (owlready2, Protege) need no network.
    merged.remove((CORE_ONTOLOGY, None, None))
    merged.remove((CMV_ONTOLOGY, OWL.imports, CORE_ONTOLOGY))
    merged.add(
        (
            CMV_ONTOLOGY,
            RDFS.comment,
            Literal(
                f"This release merges the guideline core module <{CORE_ONTOLOGY}> with the CMV module "
                "and the knowledge graph.",
                lang="en",
            ),
        )
    )
    return sorted_canonical(merged)


def sorted_canonical(graph: Graph) -> Graph:
    """The graph with canonical blank-node labels and triples in sorted order: byte-identical files."""
    ordered = Graph()
    for prefix, namespace in PREFIXES.items():
        ordered.bind(prefix, namespace, replace=True)
    for triple in sorted(to_canonical_graph(graph)):
        ordered.add(triple)
    return ordered



@cache
def knowledge() -> Graph:
    """The release graph, built once per process: what every query and check sees."""
    return release_graph()


@cache
def knowledge_ntriples() -> bytes:
    """knowledge() as N-Triples, from the disk cache when the sources have not changed."""
    return cached_bytes("knowledge", lambda: knowledge().serialize(format="nt", encoding="utf-8"))


# What the patient shapes need to see of the knowledge graph: its class hierarchy and the
# individuals that sh:class and the residue check look up, with their type-level facts.
_CONTEXT_PREDICATES = (
    RDF.type,
    RDFS.subClassOf,
    CMVRR.inGene,
    CMVRR.aminoAcidPosition,
    CMVRR.referenceResidue,
    CMVRR.alternativeResidue,
    CMVRR.proteinLength,
    CMVRR.thresholdValue,  # the shapes read FAQ6 / Table 3 thresholds from the knowledge graph
)


@cache
def validation_context() -> Graph:
    """The slice of ontology and knowledge graph every patient is validated against.

    A slice rather than the whole graph keeps pyshacl's copy of the data graph small."""
    full = knowledge()
    context = Graph()
    for predicate in _CONTEXT_PREDICATES:
        for triple in full.triples((None, predicate, None)):
            if isinstance(triple[0], URIRef):
                context.add(triple)
    return context


@cache
def validation_context_ntriples() -> bytes:
    return cached_bytes(
        "validation-context", lambda: validation_context().serialize(format="nt", encoding="utf-8")
    )


__all__ = [
    "knowledge",
    "knowledge_ntriples",
    "parse_module",
    "release_graph",
    "sorted_canonical",
    "validation_context",
    "validation_context_ntriples",
]
