"""cmvrr bench: the fast path against the baseline (pyshacl + rdflib in memory, same shapes,
queries and patients), measured in the same run. Ratios are what count; absolute times depend on
the machine."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..checks.validate import validate_input
from ..decisions.decide import recommend_graph
from ..knowledge.release import write_release
from ..paths import EXAMPLES_DIR
from ..patients.readers import read_patient_text
from .batch import run_batch
from .synth import synthetic_patients

EXAMPLE = EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json"


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """Median wall time in ms over ``repeat`` runs, after one untimed warm-up run."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _single(validator: str, engine: str) -> Callable[[], object]:
    item = read_patient_text(EXAMPLE.read_text(), EXAMPLE)

    def run() -> object:
        validate_input(item, validator=validator)
        return recommend_graph(item.graph, engine)

    return run


def _cold(arguments: Sequence[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kg_builder", *arguments], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_bench(sizes: Sequence[int] = (1000, 10000), repeat: int = 7) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    baseline_ms = median_ms(_single("pyshacl", "rdflib"), max(3, repeat // 2))
    fast_ms = median_ms(_single("oxigraph", "oxigraph"), repeat)
    rows.append({"measure": "single patient, validate + recommend (warm)", "baseline": f"{baseline_ms:.0f} ms",
                 "cmvrr": f"{fast_ms:.1f} ms", "ratio": round(baseline_ms / fast_ms, 1)})  # fmt: skip
    per_patient: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            cohort = Path(folder) / f"cohort-{size}.jsonl"
            cohort.write_text("".join(json.dumps(r) + "\n" for r in synthetic_patients(size, seed=size)))
            summary = run_batch([cohort], Path(folder) / f"out-{size}.jsonl", jobs=2)
            per_patient[size] = 1000 * summary["seconds"] / size
            baseline_total = baseline_ms * size / 1000  # one process: pyshacl + rdflib per patient
            rows.append({"measure": f"batch of {size:,} (2 cores), wall",
                         "baseline": f"~{baseline_total:,.0f} s (est.)",
                         "cmvrr": f"{summary['seconds']:.1f} s ({per_patient[size]:.1f} ms/patient)",
                         "ratio": round(baseline_total / summary["seconds"], 1)})  # fmt: skip
        example = str(EXAMPLE)
        cold_fast = _cold(["recommend", example])
        cold_base = _cold(["recommend", example, "--engine", "rdflib", "--validator", "pyshacl"])
        rows.append({"measure": "cold cmvrr recommend (one patient)", "baseline": f"{cold_base:.2f} s",
                     "cmvrr": f"{cold_fast:.2f} s", "ratio": round(cold_base / cold_fast, 1)})  # fmt: skip
        started = time.perf_counter()
        write_release(Path(folder) / "release")
        rows.append({"measure": "knowledge-graph build (cmvrr build)", "baseline": "-",
                     "cmvrr": f"{time.perf_counter() - started:.2f} s", "ratio": None})  # fmt: skip
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    rows.append(
        {"measure": "peak memory (largest process)", "baseline": "-", "cmvrr": f"{peak / 1024:.0f} MB", "ratio": None}
    )
    growth = None
    if len(sizes) >= 2:
        growth = round(per_patient[max(sizes)] / per_patient[min(sizes)], 2)
    return {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "rows": rows,
        "per_patient_growth": growth,
    }


def bench_text(result: dict[str, Any]) -> str:
    lines = [f"machine: {result['machine']}", "", f"{'measure':<46}{'baseline':>22}{'cmvrr':>30}{'ratio':>8}"]
    for row in result["rows"]:
        ratio = f"{row['ratio']}x" if row["ratio"] else ""
        lines.append(f"{row['measure']:<46}{row['baseline']:>22}{row['cmvrr']:>30}{ratio:>8}")
    if result["per_patient_growth"] is not None:
        lines.append(
            f"\nper-patient cost, largest batch / smallest batch: {result['per_patient_growth']}x (target <= 1.3x)"
        )
    lines.append("baseline: pyshacl + rdflib in memory, same shapes, queries and patients; batch baselines are the "
                 "measured single-patient cost times the batch size, one process.")  # fmt: skip
    return "\n".join(lines)


__all__ = [
    "EXAMPLE",
    "bench_text",
    "median_ms",
    "run_bench",
]
