"""A cohort store (cmvrr load-cohort): every patient's graph and the decision layer's derived
findings in one on-disk Oxigraph store, for the cohort queries (queries/cohort-*.rq).

Named graphs: the knowledge graph <https://w3id.org/cmv-rr/graph/knowledge> (also the default
graph), each patient's data <PATIENT-IRI/graph>, its derived findings <PATIENT-IRI/findings>.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyoxigraph
from rdflib import Graph, URIRef

from ..checks.chunks import CHUNK_SIZE
from ..decisions.engines import day_number_triples
from ..errors import CmvrrError
from ..knowledge.stores import load_knowledge
from ..patients.ntriples import reachable
from ..patients.readers import WorkItem, work_items
from ..pipeline import evaluate_chunk
from ..report import recommendations_graph
from ..terms import patient_graph_iri, patient_name
from .batch import Progress, chunked, warm_worker


def _quads(graph: Graph, name: str) -> str:
    """N-Triples lines of ``graph`` turned into N-Quads lines in graph ``name``."""
    triples = graph.serialize(format="nt").splitlines()
    return "".join(f"{line[:-1].rstrip()} <{name}> .\n" for line in triples if line.strip())


def cohort_chunk(args: tuple[list[WorkItem], str]) -> tuple[Counter[str], str, list[str]]:
    """Statuses, N-Quads (each patient's own data and derived findings) and a line for each item
    that is not stored, for a chunk; never raises."""
    items, engine = args
    counts: Counter[str] = Counter()
    quads, refused = [], []
    for outcome in evaluate_chunk(items, engine):
        counts.update(line["status"] for line in outcome.problems)
        refused += [f"{line['source']}: {line['status']}: {'; '.join(line['problems'][:3])}"
                    for line in outcome.problems]  # fmt: skip
        if outcome.patient is None or not outcome.recommendations:
            continue
        counts["ok"] += len(outcome.recommendations)
        iri_of = {patient_name(root): root for root in outcome.patient.patients}
        for recommendation in outcome.recommendations:
            iri = iri_of[recommendation.patient]
            own = reachable(outcome.patient.triples, iri)  # the patient's data only, never the file's
            graph = patient_graph_iri(URIRef(iri))
            quads.append("".join(f"{s} {p} {o} <{graph}> .\n" for s, p, o in own + day_number_triples(own)))
            quads.append(_quads(recommendations_graph([recommendation]), f"{iri}/findings"))
    return counts, "".join(quads), refused


def load_cohort(inputs: Sequence[Path], location: Path, jobs: int = 0) -> dict[str, Any]:
    """Build the store in a staging folder beside ``location`` and move it there only when it is
    complete: an interrupted load leaves no partial store that would answer with empty tables,
    and no staging files (the N-Quads go in the staging folder, not in $TMPDIR)."""
    if location.exists() and (not location.is_dir() or any(location.iterdir())):
        raise CmvrrError(f"{location}: the store folder must be new or empty")
    jobs = jobs or min(2, os.cpu_count() or 1)
    counts: Counter[str] = Counter()
    progress, started = Progress(inputs), time.perf_counter()
    location.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{location.name}.loading-", dir=location.parent))
    try:
        nquads = staging / "cohort.nq"
        with nquads.open("w", encoding="utf-8") as out:
            chunks = ((chunk, "oxigraph") for chunk in chunked(work_items(inputs), CHUNK_SIZE))
            with multiprocessing.get_context("fork").Pool(jobs, initializer=warm_worker) as pool:
                for chunk_counts, quads, _ in pool.imap(cohort_chunk, chunks):
                    counts.update(chunk_counts)
                    out.write(quads)
                    progress.update(sum(counts.values()), counts["error"] + counts["does-not-conform"])
        progress.close()
        store = pyoxigraph.Store(str(staging / "store"))
        load_knowledge(store)
        store.bulk_load(path=str(nquads), format=pyoxigraph.RdfFormat.N_QUADS)
        store.flush()
        size = len(store)
        del store
        if location.exists():
            location.rmdir()  # empty, checked above
        os.replace(staging / "store", location)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"store": str(location), "patients": sum(counts.values()), **dict(sorted(counts.items())),
            "quads": size, "seconds": round(seconds, 1)}  # fmt: skip


__all__ = ["cohort_chunk", "load_cohort"]
