"""A cohort store (cmvrr load-cohort): every patient's graph and the decision layer's derived
findings in one on-disk Oxigraph store, for the cohort queries (queries/cohort-*.rq).

Named graphs: the knowledge graph <https://w3id.org/cmv-rr/graph/knowledge> (also the default
graph), each patient's data <PATIENT-IRI/graph>, its derived findings <PATIENT-IRI/findings>.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyoxigraph
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from .batch import Progress, WorkItem, work_items
from .errors import CmvrrError
from .namespaces import CMVRR
from .store import load_knowledge, patient_graph_iri, with_day_numbers


def _quads(graph: Graph, name: str) -> str:
    """N-Triples lines of ``graph`` turned into N-Quads lines in graph ``name``."""
    triples = graph.serialize(format="nt").splitlines()
    return "".join(f"{line[:-1].rstrip()} <{name}> .\n" for line in triples if line.strip())


def _cohort_item(args: tuple[WorkItem, str]) -> tuple[str, str]:
    """(status, N-Quads) for one item; never raises."""
    from .decide import recommend_graph
    from .report import recommendations_turtle
    from .validate import validate_input

    item, engine = args
    try:
        patient = item.read()
        report = validate_input(patient)
        if not report.conforms:
            return "does-not-conform", ""
        quads = []
        normalised = with_day_numbers(patient.graph)
        for iri in sorted(URIRef(str(p)) for p in patient.graph.subjects(RDF.type, CMVRR.Patient)):
            quads.append(_quads(normalised, str(patient_graph_iri(iri))))
        for recommendation in recommend_graph(patient.graph, engine):
            findings = Graph().parse(data=recommendations_turtle([recommendation]), format="turtle")
            quads.append(_quads(findings, f"https://w3id.org/cmv-rr/patient/{recommendation.patient}/findings"))
        return "ok", "".join(quads)
    except CmvrrError:
        return "error", ""


def load_cohort(inputs: Sequence[Path], location: Path, jobs: int = 0) -> dict[str, Any]:
    if location.exists() and any(location.iterdir()):
        raise CmvrrError(f"{location}: the store folder must be new or empty")
    jobs = jobs or min(2, os.cpu_count() or 1)
    counts: Counter[str] = Counter()
    progress, started = Progress(), time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        nquads = Path(folder) / "cohort.nq"
        with nquads.open("w", encoding="utf-8") as out:
            items = ((item, "oxigraph") for item in work_items(inputs))
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                for status, quads in pool.imap(_cohort_item, items, chunksize=4):
                    counts[status] += 1
                    out.write(quads)
                    progress.update(sum(counts.values()), counts["error"] + counts["does-not-conform"])
        progress.close()
        store = pyoxigraph.Store(str(location))
        load_knowledge(store)
        store.bulk_load(path=str(nquads), format=pyoxigraph.RdfFormat.N_QUADS)
        store.flush()
        size = len(store)
        del store
    seconds = time.perf_counter() - started
    return {"store": str(location), "patients": sum(counts.values()), **dict(sorted(counts.items())),
            "quads": size, "seconds": round(seconds, 1)}  # fmt: skip
