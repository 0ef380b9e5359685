"""Batch mode (cmvrr recommend --batch): many patients, both cores, one JSON line each.

A bad patient does not stop the batch: its line records the problem and the rest go on. Output
goes to a temporary file that replaces the target only when the batch is complete.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from rdflib import Dataset

from .chunks import CHUNK_SIZE
from .decide import Recommendation
from .errors import CmvrrError
from .patient import PatientInput, read_patient_file, read_patient_text

PATIENT_SUFFIXES = (".json", ".ttl", ".nt", ".jsonld", ".rdf", ".owl", ".n3")


@dataclass(frozen=True)
class WorkItem:
    """One patient to process: a file, or text cut from a JSON-lines or N-Quads file."""

    source: str
    path: Path | None = None
    text: str | None = None
    syntax_suffix: str = ".json"

    def read(self) -> PatientInput:
        """The item's patient graph (a parse error raises CmvrrError, caught by the callers)."""
        if self.path is not None:
            return read_patient_file(self.path)
        return read_patient_text(self.text or "", Path(f"item{self.syntax_suffix}"))


def work_items(inputs: Sequence[Path]) -> Iterator[WorkItem]:
    """Expand folders, JSON-lines and N-Quads files into one item per patient, lazily."""
    for path in inputs:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.is_file()
                    and child.suffix.lower() in PATIENT_SUFFIXES
                    and not child.name.endswith(".expected.json")
                ):
                    yield WorkItem(str(child), path=child)
        elif path.suffix.lower() == ".jsonl":
            with path.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        yield WorkItem(f"{path}:{number}", text=line, syntax_suffix=".json")
        elif path.suffix.lower() == ".nq":
            yield from _named_graphs(path)
        elif path.is_file():
            yield WorkItem(str(path), path=path)
        else:
            raise CmvrrError(f"{path}: no such file or folder")


def _named_graphs(path: Path) -> Iterator[WorkItem]:
    dataset = Dataset()
    try:
        dataset.parse(path, format="nquads")
    except Exception as error:  # rdflib's parsers raise many unrelated types
        raise CmvrrError(f"{path}: not valid N-Quads: {str(error).splitlines()[0] if str(error) else error}") from error
    for graph in dataset.graphs():
        if len(graph) and graph.identifier != dataset.default_graph.identifier:
            yield WorkItem(f"{path}#{graph.identifier}", text=graph.serialize(format="nt"), syntax_suffix=".nt")


Lines = list[dict[str, Any]]


def process(item: WorkItem, engine: str = "oxigraph") -> Lines:
    """One item -> its JSON lines (a file may hold several patients); never raises."""
    return process_chunk([item], engine)[0]


def process_chunk(items: Sequence[WorkItem], engine: str = "oxigraph") -> list[Lines]:
    """Each item's JSON lines; never raises."""
    from .report import recommendation_dict

    return [
        outcome.problems
        or [{"source": item.source, "status": "ok", **recommendation_dict(r)} for r in outcome.recommendations]
        for item, outcome in zip(items, evaluate_chunk(items, engine), strict=True)
    ]


@dataclass(frozen=True)
class Outcome:
    """What became of one item: the lines that record its problems, or its recommendations."""

    problems: Lines = field(default_factory=list)
    recommendations: tuple[Recommendation, ...] = ()
    patient: PatientInput | None = None


def evaluate_chunk(items: Sequence[WorkItem], engine: str = "oxigraph") -> list[Outcome]:
    """Read, validate and decide for each item; never raises. Items that cannot see each other
    (chunks.py) are validated and decided together, one run of each check and query for all."""
    from .chunks import isolated_chunks
    from .validate import validate_chunk

    outcomes: list[Outcome] = [Outcome() for _ in items]
    read: list[tuple[int, PatientInput]] = []
    for index, item in enumerate(items):
        try:
            read.append((index, item.read()))
        except CmvrrError as error:
            outcomes[index] = Outcome([_error_line(item, error)])
    for chunk in isolated_chunks([patient.graph for _, patient in read]):
        members = [read[position] for position in chunk]
        reports = validate_chunk([patient for _, patient in members])
        conforming: list[tuple[int, PatientInput, tuple[str, ...]]] = []
        for (index, patient), report in zip(members, reports, strict=True):
            if report.conforms:
                warnings = tuple(
                    f"{f.focus}: {f.message}" for p in report.patients for f in p.findings if f.severity != "Violation"
                )
                conforming.append((index, patient, warnings))
            else:
                source = items[index].source
                outcomes[index] = Outcome([
                    {"patient": p.patient, "source": source, "status": "does-not-conform", "problems": _violations(p)}
                    for p in report.patients
                    if not p.conforms
                ])  # fmt: skip
        for index, patient, answer in _recommend(conforming, engine):
            if isinstance(answer, CmvrrError):
                outcomes[index] = Outcome([_error_line(items[index], answer)], patient=patient)
            else:
                outcomes[index] = Outcome(recommendations=answer, patient=patient)
    return outcomes


def _recommend(
    conforming: list[tuple[int, PatientInput, tuple[str, ...]]], engine: str
) -> list[tuple[int, PatientInput, tuple[Recommendation, ...] | CmvrrError]]:
    """Recommendations per item, all items in one store; if that fails (an input the engine
    cannot take), item by item, so that only the bad item records the error."""
    from .chunks import patients_of
    from .decide import recommend_graphs
    from .patient import patient_name

    item_of = {patient_name(root): position for position, (_, patient, _) in enumerate(conforming)
               for root in patients_of(patient.graph)}  # fmt: skip
    try:
        recommendations = recommend_graphs(
            [patient.graph for _, patient, _ in conforming],
            engine,
            lambda key: conforming[item_of[key]][2],
            [patient.ntriples for _, patient, _ in conforming],
        )
    except CmvrrError as error:
        if len(conforming) == 1:
            return [(conforming[0][0], conforming[0][1], error)]
        return [answer for member in conforming for answer in _recommend([member], engine)]
    by_item: list[list[Recommendation]] = [[] for _ in conforming]
    for recommendation in recommendations:
        by_item[item_of[recommendation.patient]].append(recommendation)
    return [(index, patient, tuple(found)) for (index, patient, _), found in zip(conforming, by_item, strict=True)]


def _error_line(item: WorkItem, error: CmvrrError) -> dict[str, Any]:
    return {"patient": None, "source": item.source, "status": "error", "problems": [str(error)]}


def _violations(patient: Any) -> list[str]:
    return [
        f"{f.focus} {f.path}: {f.message}".replace("  ", " ") for f in patient.findings if f.severity == "Violation"
    ]


_Task = tuple[list[WorkItem], str]
_Result = tuple[str, Counter[str]]


def _process_for_pool(args: _Task) -> _Result:
    """A chunk's JSON lines as text, and how many of each status: written in the worker, so that
    the parent only copies text (it shares the two cores with the workers)."""
    lines = [line for item_lines in process_chunk(*args) for line in item_lines]
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return text, Counter(line["status"] for line in lines)


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream, self.enabled, self.started = stream, stream.isatty(), time.perf_counter()
        self.shown = 0.0

    def update(self, done: int, problems: int) -> None:
        now = time.perf_counter()
        if self.enabled and now - self.shown >= 0.1:
            self.shown = now
            rate = done / max(now - self.started, 1e-9)
            self.stream.write(f"\r{done:,} patients, {problems:,} with problems, {rate:,.0f}/s ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def run_batch(inputs: Sequence[Path], out: Path, jobs: int = 0, engine: str = "oxigraph") -> dict[str, Any]:
    """Process every patient; write one JSON line each to ``out`` (a .jsonl file, or a folder)."""
    target = out / "recommendations.jsonl" if out.suffix.lower() != ".jsonl" else out
    target.parent.mkdir(parents=True, exist_ok=True)
    jobs = jobs or min(2, os.cpu_count() or 1)
    counts: Counter[str] = Counter()
    progress, started = Progress(), time.perf_counter()
    with tempfile.NamedTemporaryFile(
        "w", dir=target.parent, prefix=".batch-", suffix=".jsonl", delete=False, encoding="utf-8"
    ) as staging:
        try:
            chunks = ((chunk, engine) for chunk in chunked(work_items(inputs), CHUNK_SIZE))
            if jobs == 1:
                _warm()
                _write_all(map(_process_for_pool, chunks), staging, counts, progress)
            else:
                window = _Window(4 * jobs)
                with multiprocessing.get_context("fork").Pool(jobs, initializer=warm_worker) as pool:
                    try:
                        results = window.track(pool.imap(_process_for_pool, window.feed(chunks)))
                        _write_all(results, staging, counts, progress)
                    finally:
                        window.stopped.set()
        except BaseException:
            Path(staging.name).unlink(missing_ok=True)
            raise
        finally:
            progress.close()
    os.replace(staging.name, target)
    seconds = time.perf_counter() - started
    total = sum(counts.values())
    return {"output": str(target), "patients": total, **dict(sorted(counts.items())), "seconds": round(seconds, 2),
            "ms_per_patient": round(1000 * seconds / total, 1) if total else None, "jobs": jobs}  # fmt: skip


class _Window:
    """At most ``size`` chunks between reading and writing, so that a batch streams: Pool.imap
    alone would read the whole input into its queue first."""

    def __init__(self, size: int) -> None:
        self.slots, self.stopped = threading.Semaphore(size), threading.Event()

    def feed(self, chunks: Iterable[_Task]) -> Iterator[_Task]:
        for chunk in chunks:
            while not self.slots.acquire(timeout=0.1):
                if self.stopped.is_set():  # the batch was interrupted: read no more
                    return
            yield chunk

    def track(self, results: Iterable[_Result]) -> Iterator[_Result]:
        for result in results:
            self.slots.release()
            yield result


def chunked(items: Iterable[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    chunk: list[WorkItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_all(
    results: Iterable[tuple[str, Counter[str]]], stream: IO[str], counts: Counter[str], progress: Progress
) -> None:
    for text, chunk_counts in results:
        stream.write(text)
        counts.update(chunk_counts)
        progress.update(sum(counts.values()), counts["error"] + counts["does-not-conform"])


def _warm() -> None:
    """Build the caches once, before the first patient."""
    from .decide import _row_options, _statements
    from .validate import _fast_validator

    _fast_validator()
    _statements("oxigraph")
    _row_options("oxigraph")


def warm_worker() -> None:
    """A pool worker's caches, then exempt from garbage collection: scanning the knowledge
    graph's objects again and again cost 0.6 ms per patient (workers only: this is for good)."""
    _warm()
    gc.collect()
    gc.freeze()
