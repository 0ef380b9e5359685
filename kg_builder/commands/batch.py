"""Batch mode (cmvrr recommend --batch): many patients, both cores, one JSON line each.

A bad patient does not stop the batch: its line records the problem and the rest go on. Output
goes to a temporary file that replaces the target only when the batch is complete.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

from tqdm import tqdm

from ..checks.chunks import CHUNK_SIZE
from ..checks.validate import fast_validator
from ..decisions.decide import graded_statements, table4_option_lines
from ..patients.readers import PATIENT_SUFFIXES, WorkItem, work_items
from ..pipeline import Lines, evaluate_chunk
from ..report import recommendation_dict
from .output import atomic_output


def process_chunk(items: Sequence[WorkItem], engine: str = "oxigraph") -> list[Lines]:
    """Each item's JSON lines; never raises."""
    return [
        outcome.problems
        or [{"source": item.source, "status": "ok", **recommendation_dict(r)} for r in outcome.recommendations]
        for item, outcome in zip(items, evaluate_chunk(items, engine), strict=True)
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
    """A progress bar on stderr (tqdm): patients done of the total, rate and time left, and how
    many had problems; only when stderr is a terminal. The total counts JSON lines and files
    before the work starts (a linear pass over the bytes); a JSON list or an N-Quads file counts
    as one until it is read, so the bar may then grow."""

    def __init__(self, inputs: Sequence[Path] = (), stream: TextIO = sys.stderr) -> None:
        self.enabled = stream.isatty()
        # A terminal of unknown size reports 0 x 0, and tqdm hides a bar below the screen's last row.
        size = shutil.get_terminal_size(fallback=(100, 24))
        self.bar = tqdm(total=estimate_total(inputs) if self.enabled else None, unit=" patients", file=stream,
                        disable=not self.enabled, ncols=size.columns, nrows=size.lines, smoothing=0.1)  # fmt: skip

    def update(self, done: int, problems: int) -> None:
        if self.enabled:
            if self.bar.total is not None and done > self.bar.total:
                self.bar.total = done
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(f"{problems:,} with problems", refresh=False)

    def close(self) -> None:
        self.bar.close()


def estimate_total(inputs: Sequence[Path]) -> int:
    """How many patients the inputs hold, as far as counting lines and files tells."""
    total = 0
    for path in inputs:
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.suffix.lower() == ".jsonl" and file.is_file():
                with file.open("rb") as handle:
                    total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
            elif file.is_file() and file.suffix.lower() in (*PATIENT_SUFFIXES, ".nq"):
                total += 1
    return total


def run_batch(
    inputs: Sequence[Path], out: Path, jobs: int = 0, engine: str = "oxigraph", force: bool = False
) -> dict[str, Any]:
    """Process every patient; write one JSON line each to ``out`` (a .jsonl file, or a folder),
    all or nothing (output.py); an existing output is replaced only with ``force``."""
    target = out / "recommendations.jsonl" if out.suffix.lower() != ".jsonl" else out
    jobs = jobs or min(2, os.cpu_count() or 1)
    counts: Counter[str] = Counter()
    progress, started = Progress(inputs), time.perf_counter()
    with atomic_output(target, inputs, force) as staging:
        try:
            chunks = ((chunk, engine) for chunk in chunked(work_items(inputs), CHUNK_SIZE))
            if jobs == 1:
                warm_caches()
                with tuned_collector():  # as the workers run
                    _write_all(map(_process_for_pool, chunks), staging, counts, progress)
            else:
                window = _Window(4 * jobs)
                with multiprocessing.get_context("fork").Pool(jobs, initializer=warm_worker) as pool:
                    try:
                        results = window.track(pool.imap(_process_for_pool, window.feed(chunks)))
                        _write_all(results, staging, counts, progress)
                    finally:
                        window.stopped.set()
        finally:
            progress.close()
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


def warm_caches() -> None:
    """Build the caches once, before the first patient."""
    fast_validator()
    graded_statements("oxigraph")
    table4_option_lines("oxigraph")


def warm_worker() -> None:
    """A pool worker's caches, then the batch's collector settings (tune_collector), for good.
    Ctrl-C reaches the whole process group: the parent answers it and stops the pool, so a
    worker ignores it (no traceback per worker); SIGTERM, the pool's own stop, ends it at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    warm_caches()
    tune_collector()


def tune_collector() -> tuple[int, int, int]:
    """The objects made so far (the caches, the knowledge graph's) exempt from garbage collection:
    scanning them again and again cost 0.6 ms per patient. The collector then runs less often: a
    chunk makes many short-lived objects and few cycles (1,153 collections for 1,000 patients
    took 0.14 ms a patient, 8 took 0.04). Returns the thresholds it replaced."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    return previous


@contextmanager
def tuned_collector() -> Iterator[None]:
    """tune_collector for a while (a batch run in this process, the bench), then the thresholds as
    they were and nothing frozen (gc.unfreeze undoes every freeze, a caller's own too)."""
    previous = tune_collector()
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


__all__ = [
    "Progress",
    "chunked",
    "estimate_total",
    "process_chunk",
    "run_batch",
    "tune_collector",
    "tuned_collector",
    "warm_caches",
    "warm_worker",
]
