"""What every Oxigraph store the package makes holds of the knowledge: the guideline's graph and
the second source's (decisions, cmvrr query, serve, cohorts). Apart from graph.py, which the
second source's build needs, so that neither imports the other."""

from __future__ import annotations

import pyoxigraph

from ..terms import HERPESDRG_GRAPH, KNOWLEDGE_GRAPH
from .graph import knowledge_ntriples
from .herpesdrg import decision_slice_ntriples, evidence_ntriples


def load_knowledge(store: pyoxigraph.Store) -> None:
    """The knowledge graph into an Oxigraph store: named for the decision queries, and also the
    default graph, so that queries written for the release file run unchanged; and the second
    source (HerpesDRG measurements and the calls derived where Table 5 is silent) in its own
    named graph. The rdflib engine loads only the calls that change a decision (the same
    answers to every decision query, a quarter of a second instead of a second and a half)."""
    for graph_name in (pyoxigraph.NamedNode(KNOWLEDGE_GRAPH), pyoxigraph.DefaultGraph()):
        store.bulk_load(knowledge_ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=graph_name)
    store.bulk_load(evidence_ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES,
                    to_graph=pyoxigraph.NamedNode(HERPESDRG_GRAPH))  # fmt: skip


def load_decision_knowledge(store: pyoxigraph.Store) -> None:
    """What the decision queries read, as the rdflib engine has it: the knowledge graph, named,
    and of the second source only the calls that change a decision. A batch makes such a store
    anew every few hundred patients (decisions/engines.py): 13,500 quads load in 25 ms, where the
    45,700 of load_knowledge (the default graph and all of HerpesDRG too) took 105."""
    store.bulk_load(knowledge_ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES,
                    to_graph=pyoxigraph.NamedNode(KNOWLEDGE_GRAPH))  # fmt: skip
    store.bulk_load(decision_slice_ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES,
                    to_graph=pyoxigraph.NamedNode(HERPESDRG_GRAPH))  # fmt: skip


__all__ = ["load_decision_knowledge", "load_knowledge"]
