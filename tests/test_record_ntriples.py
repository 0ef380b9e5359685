"""JSON records are written straight to N-Triples (patients/record.py); rdflib's graph of a
record is parsed from those very bytes, so the two are one mapping. What remains to prove: that
Oxigraph (the batch) and rdflib (the API, pySHACL, the reference engine) read the bytes alike,
for every fixture, for thousands of generated records and for odd strings; and that a patient's
report holds its own findings only, whatever file it came in (a JSON list, JSON lines, alone)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import records

from kg_builder.api import recommend, validate
from kg_builder.commands.batch import run_batch
from kg_builder.commands.synth import synthetic_patients
from kg_builder.decisions.engines import patient_data
from kg_builder.decisions.model import Recommendation
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.ntriples import split_triples
from kg_builder.patients.readers import PatientInput
from kg_builder.patients.record import records_graph, records_ntriples, records_triples
from kg_builder.report import recommendation_dict

FIXTURES = sorted(EXAMPLES_DIR.rglob("*.json"))


def _read_alike(data: Any) -> None:
    """rdflib's graph of the record and Oxigraph's reading of its N-Triples hold the same triples
    (compared as Oxigraph terms: rdflib's graph written out and read back)."""
    written, _ = records_ntriples(data)
    graph, _ = records_graph(data)
    oxigraph = set(pyoxigraph.parse(written, format=pyoxigraph.RdfFormat.N_TRIPLES))
    through_rdflib = graph.serialize(format="nt", encoding="utf-8")
    assert set(pyoxigraph.parse(through_rdflib, format=pyoxigraph.RdfFormat.N_TRIPLES)) == oxigraph
    assert len(graph) == len(oxigraph) == len(set(written.splitlines()))
    # The batch keeps the writer's terms instead of splitting its lines again: the same tuples.
    assert records_triples(data)[0] == split_triples(written)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.name)
def test_every_fixture_reads_alike_in_rdflib_and_oxigraph(path: Path) -> None:
    _read_alike(json.loads(path.read_text()))


def test_synthetic_patients_read_alike() -> None:
    _read_alike(list(synthetic_patients(500, seed=16)))


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(records())
def test_generated_records_read_alike(record: dict[str, Any]) -> None:
    _read_alike(record)


ODD = ['"quoted"', "back\\slash", "line\nbreak", "carriage\rreturn", "tab\tand\x00nul\x7f", "\u2028\x85\x0b\x0c",
       "é 😀 \U0010fffd", "trailing .", ' "^^<x> .', "\\u0041 not an escape"]  # fmt: skip


@pytest.mark.parametrize("text", ODD)
def test_odd_strings_survive_both_readers(text: str) -> None:
    record = {"id": "ODD", "viral_loads": [{"date": "2025-01-01", "iu_per_ml": 1e-7, "assay": text}],
              "intolerance": [{"drug": "foscarnet", "reason": "nephrotoxicity", "note": text}]}  # fmt: skip
    _read_alike(record)
    graph, _ = records_graph(record)
    written, _ = records_ntriples(record)
    ours = {str(o) for o in graph.objects() if o.startswith(text[:1])}
    theirs = {t.object.value for t in pyoxigraph.parse(written, format=pyoxigraph.RdfFormat.N_TRIPLES)}
    assert text in ours and text in theirs


# --- a patient's report holds its own findings only ---------------------------------------------


def _with_warnings(count: int) -> list[dict[str, Any]]:
    """Synthetic patients, some of whose reports carry warnings (two assays, a low-load genotype)."""
    return list(synthetic_patients(count, seed=5))


def _alone(record: dict[str, Any]) -> dict[str, Any]:
    [recommendation] = recommend(record)
    return _as_json(recommendation)


def _as_json(recommendation: Recommendation) -> dict[str, Any]:
    return dict(json.loads(json.dumps(recommendation_dict(recommendation))))


def test_a_patients_report_holds_its_own_findings_whatever_file_it_came_in(tmp_path: Path) -> None:
    patients = _with_warnings(20)
    alone = {record["id"]: _alone(record) for record in patients}
    assert sum(1 for line in alone.values() if line["warnings"]) >= 2, "some patients must have warnings"
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(patients))
    lines = tmp_path / "cohort.jsonl"
    lines.write_text("".join(json.dumps(record) + "\n" for record in patients))
    # The API and cmvrr recommend with one file holding the list
    for recommendation in recommend(listed):
        assert _as_json(recommendation) == alone[recommendation.patient]
    for recommendation in recommend(patients):
        assert _as_json(recommendation) == alone[recommendation.patient]
    # Batches of the list and of JSON lines
    for source in (listed, lines):
        run_batch([source], tmp_path / "out.jsonl", jobs=1, force=True)
        for line in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines()):
            assert {key: line[key] for key in alone[line["patient"]]} == alone[line["patient"]]
    # Validation: each patient's findings are those it gets alone
    reports = {report.patient: report.findings for report in validate(listed).patients}
    for record in patients:
        [own] = validate(record).patients
        assert reports[record["id"]] == own.findings


def test_each_patient_of_a_list_is_loaded_with_its_own_data_only() -> None:
    """A list of N records is N patients of one record's data each, never N times the list."""
    record = json.loads((EXAMPLES_DIR / "valid" / "ul97-low-level.json").read_text())
    written, _ = records_ntriples([{**record, "id": f"L{number}"} for number in range(20)])
    data = patient_data(PatientInput(Path("list.json"), ntriples=written))
    assert len(data) == 20
    for patient, own in data.items():
        assert set(re.findall(rb"/patient/([^/>]+)", own)) == {patient.rsplit("/", 1)[1].encode()}
