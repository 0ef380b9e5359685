"""Batch mode: N patients in a batch give the same lines as N single runs; bad patients are
recorded and the rest go on; folders, JSON lines and N-Quads all work."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rdflib import Dataset, URIRef

from kg_builder.commands.batch import run_batch
from kg_builder.commands.cli import main
from kg_builder.commands.synth import synthetic_patients
from kg_builder.decisions.decide import recommend_graph
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_text
from kg_builder.report import recommendation_dict

COUNT = 200


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.jsonl"
    lines = [json.dumps(record) for record in synthetic_patients(COUNT, seed=11)]
    lines.insert(7, '{"id": "BROKEN", "viral_loads": [ }')  # malformed JSON
    lines.insert(50, json.dumps({"id": "NEGATIVE", "viral_loads": [{"date": "2025-01-01", "iu_per_ml": -5}]}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_batch_equals_single_runs(cohort: Path, tmp_path: Path) -> None:
    summary = run_batch([cohort], tmp_path / "out.jsonl", jobs=2)
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary["patients"] == COUNT + 2 == len(lines)
    assert summary["ok"] == COUNT and summary["error"] == 1 and summary["does-not-conform"] == 1
    by_patient = {line["patient"]: line for line in lines if line["status"] == "ok"}
    for record in synthetic_patients(COUNT, seed=11):
        graph = read_patient_text(json.dumps(record), Path("single.json")).graph
        [single] = recommend_graph(graph, "oxigraph")
        batch_line = dict(by_patient[record["id"]])
        assert batch_line.pop("source").startswith(str(cohort))
        assert batch_line.pop("status") == "ok"
        batch_line["warnings"] = []  # single runs here skip validation, so carry no warnings
        assert batch_line == json.loads(json.dumps({**recommendation_dict(single), "warnings": []}))
    broken = next(line for line in lines if line["status"] == "error")
    assert broken["source"] == f"{cohort}:8" and "not valid JSON" in broken["problems"][0]
    negative = next(line for line in lines if line["status"] == "does-not-conform")
    assert negative["patient"] == "NEGATIVE" and "not negative" in " ".join(negative["problems"])


def test_batch_reads_folders_and_nquads(tmp_path: Path) -> None:
    dataset = Dataset()
    for path in sorted((EXAMPLES_DIR / "cases").glob("row*.json"))[:3]:
        graph = read_patient_text(path.read_text(), Path("x.json")).graph
        named = dataset.graph(URIRef(f"urn:patient:{path.stem}"))
        for triple in graph:
            named.add(triple)
    nquads = tmp_path / "cohort.nq"
    nquads.write_text(dataset.serialize(format="nquads"))
    out = tmp_path / "results"
    assert (
        main(["recommend", "--batch", str(nquads), str(EXAMPLES_DIR / "valid"), "--out", str(out), "--jobs", "1"]) == 0
    )
    lines = [json.loads(line) for line in (out / "recommendations.jsonl").read_text().splitlines()]
    valid = len(list((EXAMPLES_DIR / "valid").iterdir()))
    assert len(lines) == 3 + valid and {line["status"] for line in lines} == {"ok"}
    assert {line["patient"] for line in lines} >= {"CASE-ROW1", "CASE-ROW2", "P-WT"}


def test_batch_without_out_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--batch", str(EXAMPLES_DIR / "valid")]) == 2
    assert "--out" in capsys.readouterr().err


def test_synth_is_seeded_and_valid(tmp_path: Path) -> None:
    first = list(synthetic_patients(20, seed=3))
    assert first == list(synthetic_patients(20, seed=3)) != list(synthetic_patients(20, seed=4))
    path = tmp_path / "s.jsonl"
    assert main(["synth", "20", "--out", str(path), "--seed", "3"]) == 0
    assert [json.loads(line) for line in path.read_text().splitlines()] == first


def test_bench_reports_every_measure_beside_its_baseline() -> None:
    """The benchmark itself runs (tiny sizes here; the figures come from `cmvrr bench`): the
    baseline's answers are checked equal to cmvrr's inside it, measured sizes say so, larger
    ones say they are extrapolated, and every row carries the load average."""
    from kg_builder.commands.bench import bench_text, run_bench

    result = run_bench(sizes=(6, 8), baseline_sizes=(4,), repeat=2)
    measures = [row["measure"] for row in result["rows"]]
    assert measures[0].startswith("single patient") and any(m.startswith("batch of 8") for m in measures)
    assert any(m.startswith("batch CPU per patient") for m in measures)
    assert any(m.startswith("cold cmvrr recommend") for m in measures)
    baselines = {row["measure"]: row["baseline"] for row in result["rows"]}
    assert "measured" in baselines["batch of 4 (2 workers), wall"]
    assert "extrapolated from 4" in baselines["batch of 8 (2 workers), wall"]
    assert result["sizes"] == [6, 8]  # growth between the sizes asked for, never a baseline-only size
    assert all(row["ratio"] is None or row["ratio"] > 0 for row in result["rows"])
    assert all(isinstance(row["load"], float) for row in result["rows"])
    assert "per-patient wall time" in bench_text(result)
    # Noisy figures come with their spread: the in-process ratio over rounds, the cold start's range.
    [cpu] = [row for row in result["rows"] if row["measure"].startswith("batch CPU per patient")]
    assert re.search(r"medians of 5 rounds, whose ratios ran \d+\.\d\d-\d+\.\d\d", cpu["note"])
    [cold] = [row for row in result["rows"] if row["measure"].startswith("cold cmvrr recommend")]
    assert re.fullmatch(r"\d+\.\d\d s \(median of 5: \d+\.\d\d-\d+\.\d\d\)", cold["cmvrr"])
    assert re.fullmatch(r"python alone \d+\.\d\d s", cold["baseline"])  # what any process costs here


def test_batch_equals_one_item_at_a_time_with_faults_warnings_and_repeats(tmp_path: Path) -> None:
    """Chunked batch lines (validation findings, warnings and all) equal process_chunk() run on each item alone
    alone, over patients with injected faults, repeated patient ids and a Turtle file with blank
    nodes (which chunks.py keeps apart)."""
    import random

    from test_fast_validation import _corrupt

    from kg_builder.commands.batch import process_chunk
    from kg_builder.patients.readers import WorkItem

    rng = random.Random(4)
    records = list(synthetic_patients(300, seed=4))
    for number, record in enumerate(records):
        record["id"] = f"B-{number % 290}"  # ten ids come back later in the batch
        if number % 3 == 0:
            _corrupt(record, rng)
    cohort = tmp_path / "faulty.jsonl"
    cohort.write_text("".join(json.dumps(record) + "\n" for record in records))
    turtle = EXAMPLES_DIR / "valid" / "wild-type-refractory.ttl"
    summary = run_batch([cohort, turtle], tmp_path / "out.jsonl", jobs=2)
    batch = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    items = [WorkItem(f"{cohort}:{n}", text=json.dumps(r) + "\n") for n, r in enumerate(records, start=1)]
    single = [line for item in [*items, WorkItem(str(turtle), path=turtle)] for line in process_chunk([item])[0]]
    assert batch == json.loads(json.dumps(single))
    assert summary["does-not-conform"] > 30 and summary["ok"] > 150
    assert any(line.get("warnings") for line in batch), "warnings must be carried too"


def test_progress_on_a_terminal_shows_total_rate_and_time_left(tmp_path: Path) -> None:
    """tqdm on stderr when it is a terminal (a pseudo-terminal here): done of total, the rate and
    the time left; nothing of it when stderr is not a terminal."""
    import os
    import pty
    import subprocess
    import sys

    cohort = tmp_path / "c.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in synthetic_patients(300, seed=9)))
    primary, secondary = pty.openpty()
    command = [sys.executable, "-m", "kg_builder", "recommend", "--batch", str(cohort), "--out"]
    command.append(str(tmp_path / "o.jsonl"))
    process = subprocess.Popen([*command, "--jobs", "1"], stderr=secondary, stdout=subprocess.PIPE)
    os.close(secondary)
    shown = b""
    while True:
        try:
            piece = os.read(primary, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not piece:
            break
        shown += piece
    assert process.wait(timeout=300) == 0
    text = shown.decode(errors="replace")
    assert "300/300" in text and "patients/s" in text and "with problems" in text, text[:600]
    assert "<" in text, "tqdm's time left ([elapsed<remaining])"
    quiet = subprocess.run([sys.executable, "-m", "kg_builder", "recommend", "--batch", str(cohort), "--out",
                            str(tmp_path / "o2.jsonl")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert "patients/s" not in quiet.stderr and '"patients": 300' in quiet.stderr


def test_the_batch_collector_settings_hold_while_tuned_and_are_undone_after() -> None:
    """--jobs 1 and the bench run with the workers' collector settings; a library caller's
    process gets its own back afterwards (thresholds, and nothing left frozen)."""
    import gc

    from kg_builder.commands.batch import tuned_collector

    before = gc.get_threshold()
    with tuned_collector():
        assert gc.get_threshold() == (50_000, 50, 100)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
