"""Batch mode (cmvrr recommend --batch): many patients, both cores, one JSON line each.

A bad patient does not stop the batch: its line records the problem and the rest go on. Output
goes to a temporary file that replaces the target only when the batch is complete.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from rdflib import Dataset

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


def process(item: WorkItem, engine: str = "oxigraph") -> list[dict[str, Any]]:
    """One item -> its JSON lines (a file may hold several patients); never raises."""
    from .decide import recommend_graph
    from .report import recommendation_dict
    from .validate import validate_input

    try:
        patient = item.read()
        report = validate_input(patient)
        failing = {p.patient for p in report.patients if not p.conforms}
        lines: list[dict[str, Any]] = [
            {"patient": p.patient, "source": item.source, "status": "does-not-conform", "problems": _violations(p)}
            for p in report.patients
            if not p.conforms
        ]
        if failing:
            return lines
        warnings = [f"{f.focus}: {f.message}" for p in report.patients for f in p.findings if f.severity != "Violation"]
        for recommendation in recommend_graph(patient.graph, engine, warnings):
            lines.append({"source": item.source, "status": "ok", **recommendation_dict(recommendation)})
        return lines
    except CmvrrError as error:
        return [{"patient": None, "source": item.source, "status": "error", "problems": [str(error)]}]


def _violations(patient: Any) -> list[str]:
    return [
        f"{f.focus} {f.path}: {f.message}".replace("  ", " ") for f in patient.findings if f.severity == "Violation"
    ]


def _process_for_pool(args: tuple[WorkItem, str]) -> list[dict[str, Any]]:
    return process(*args)


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream, self.enabled, self.started = stream, stream.isatty(), time.perf_counter()

    def update(self, done: int, problems: int) -> None:
        if self.enabled and (done < 20 or done % 10 == 0):
            rate = done / max(time.perf_counter() - self.started, 1e-9)
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
            items = ((item, engine) for item in work_items(inputs))
            if jobs == 1:
                results: Iterator[list[dict[str, Any]]] = (_process_for_pool(args) for args in items)
                _write_all(results, staging, counts, progress)
            else:
                with multiprocessing.get_context("fork").Pool(jobs, initializer=_warm) as pool:
                    _write_all(pool.imap(_process_for_pool, items, chunksize=4), staging, counts, progress)
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


def _write_all(
    results: Iterator[list[dict[str, Any]]], stream: IO[str], counts: Counter[str], progress: Progress
) -> None:
    for lines in results:
        for line in lines:
            stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            counts[line["status"]] += 1
        progress.update(sum(counts.values()), counts["error"] + counts["does-not-conform"])


def _warm() -> None:
    """Build each worker's caches once, before its first patient."""
    from .decide import _statements
    from .validate import knowledge_context, patient_shapes

    knowledge_context()
    patient_shapes()
    _statements("oxigraph")
