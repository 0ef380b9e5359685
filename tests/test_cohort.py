"""Cohort store and cohort queries: their answers, from derived facts in Oxigraph, agree with the
batch JSON lines of the same patients."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kg_builder.commands.batch import run_batch
from kg_builder.commands.cli import main
from kg_builder.commands.cohort import load_cohort
from kg_builder.commands.query import run_store_query
from kg_builder.commands.synth import synthetic_patients


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    folder = tmp_path_factory.mktemp("cohort")
    source = folder / "cohort.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in synthetic_patients(80, seed=21)))
    summary = load_cohort([source], folder / "db", jobs=2)
    assert summary["ok"] == 80
    run_batch([source], folder / "lines.jsonl", jobs=2)
    lines = [json.loads(line) for line in (folder / "lines.jsonl").read_text().splitlines()]
    return folder / "db", lines


def test_patients_per_table4_row(cohort: tuple[Path, list[dict[str, object]]]) -> None:
    store, lines = cohort
    expected = Counter(str(row) for line in lines for row in line["table4_rows"])  # type: ignore[attr-defined]
    _, rows = run_store_query("cohort-table4-rows", store)
    assert {row["rowNumber"]: int(str(row["patients"])) for row in rows} == dict(expected)


def test_patients_per_resistance_drug(cohort: tuple[Path, list[dict[str, object]]]) -> None:
    store, lines = cohort
    expected = Counter(
        drug
        for line in lines
        for drug, value in line["susceptibility"].items()
        if value["status"] == "resistant"  # type: ignore[attr-defined]
    )
    _, rows = run_store_query("cohort-resistance", store)
    assert {str(row["drug"]).rsplit("/", 1)[1]: int(str(row["patients"])) for row in rows} == dict(expected)


def test_refractory_without_resistance_and_testing_not_done(cohort: tuple[Path, list[dict[str, object]]]) -> None:
    store, lines = cohort
    refractory = {
        line["patient"] for line in lines
        if line["refractory"]["status"] in ("refractory", "probable-refractory")  # type: ignore[index]
        and not any(v["status"] == "resistant" for v in line["susceptibility"].values())  # type: ignore[attr-defined]
    }  # fmt: skip
    _, rows = run_store_query("cohort-refractory-without-resistance", store)
    assert {str(row["patient"]).rsplit("/", 1)[1] for row in rows} == refractory
    not_done = {line["patient"] for line in lines
                if line["genotype_testing"]["indicated"] and not line["genotype_testing"]["done"]}  # type: ignore[index]  # fmt: skip
    _, rows = run_store_query("cohort-genotype-not-done", store)
    assert {str(row["patient"]).rsplit("/", 1)[1] for row in rows} == not_done


def test_query_command_over_a_store(
    cohort: tuple[Path, list[dict[str, object]]], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = cohort
    assert main(["query", "cohort-table4-rows", "--store", str(store), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("rowNumber,patients\n")
    assert main(["query", "cohort-table4-rows", "--store", str(store.parent / "nowhere")]) == 2
