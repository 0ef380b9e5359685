"""What every Oxigraph store the package makes holds of the knowledge: the guideline's graph and
the second source's (decisions, cmvrr query, serve, cohorts). Apart from graph.py, which the
second source's build needs, so that neither imports the other."""

from __future__ import annotations

import pyoxigraph

from ..terms import HERPESDRG_GRAPH, KNOWLEDGE_GRAPH
from .graph import knowledge_ntriples
from .herpesdrg import decision_slice_ntriples, evidence_ntriples


def load_knowledge(store: pyoxigraph.Store, whole_evidence: bool = True) -> None:
    """The knowledge graph into an Oxigraph store, named for the decision queries, and the second
    source in its own named graph. With ``whole_evidence`` (serve, cohorts, cmvrr query): also the
    default graph, so that queries written for the release file run unchanged, and all of
    HerpesDRG (measurements and the calls derived where Table 5 is silent; source-conflicts.rq
    reads the measurements). Without it, what the decision queries read, as the rdflib engine has
    it: only the calls that change a decision. A batch makes that store anew every few hundred
    patients (decisions/engines.py): 13,500 quads load in 25 ms, where the 45,700 of the whole
    took 105."""
    graphs = (pyoxigraph.NamedNode(KNOWLEDGE_GRAPH), pyoxigraph.DefaultGraph())
    for graph_name in graphs if whole_evidence else graphs[:1]:
        store.bulk_load(knowledge_ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=graph_name)
    evidence = evidence_ntriples() if whole_evidence else decision_slice_ntriples()
    store.bulk_load(evidence, format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=pyoxigraph.NamedNode(HERPESDRG_GRAPH))


__all__ = ["load_knowledge"]
