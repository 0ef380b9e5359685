"""The patient-record strategies of tests/strategies.py: every record is valid input, and the
situations the plan invariants need come up with useful frequency.

Coverage is measured on one derandomised sample of 2,000 records (the same sample every run,
so the assertions cannot flake), with the Table 4 rows the package itself computes for each.
CMVRR_SAFETY_EXAMPLES (default 1500) scales the counts as in test_safety_invariants.py
(2,000 draws and 300 validated records at the default); the sample never shrinks below 1,000,
which still covers every overlap.
"""

from __future__ import annotations

import datetime
import json
import os
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import strategies
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from rdflib import Graph
from strategies import (
    CNS_SITES,
    CONTROLLED_INFECTION,
    MARIBAVIR_FAILURE,
    OVERLAPPING_ROWS,
    OVERLAPS,
    PROPHYLAXIS_BLIP,
    REFRACTORY_WITHOUT_MUTATION,
    SCENARIOS,
    SINGLE_ROW,
    TABLE5,
    detected_mutations,
    labelled_records,
    resisted,
    table4_rows,
)

from kg_builder.checks.validate import validate_input
from kg_builder.decisions.decide import recommend_graphs
from kg_builder.decisions.model import Recommendation
from kg_builder.patients.readers import read_patient_text
from kg_builder.patients.record import add_record

SCALE = int(os.environ.get("CMVRR_SAFETY_EXAMPLES", "1500")) / 1500
DRAWS = max(1000, round(2000 * SCALE))
VALIDATED = max(50, round(300 * SCALE))

# The overlaps Table 5 allows (the list): a UL97 row (1 or 2), a UL54 row (3-6) and row 7
# pairwise, and the triples of all three genes' rows.
PAIRS = [{1, 3}, {1, 4}, {1, 5}, {1, 6}, {2, 3}, {2, 4}, {2, 5}, {2, 6}, {1, 7}, {2, 7}, {3, 7}, {4, 7}, {5, 7}, {6, 7}]
TRIPLES = [{ul97, ul54, 7} for ul97 in (1, 2) for ul54 in (3, 4, 5, 6)]
CNS = {"retinitis", "encephalitis", "ventriculitis"}
TREATMENT = {"ganciclovir", "valganciclovir", "foscarnet", "cidofovir", "maribavir"}

Drawn = tuple[str, dict[str, Any], Recommendation]


def _collect(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values of ``strategy``, the same ones every run (derandomised, no database)."""
    values: list[Any] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(value: Any) -> None:
        values.append(value)

    collect()
    return values


@cache
def sample() -> list[Drawn]:
    """DRAWS labelled records with the package's recommendation for each: one per distinct
    record (Hypothesis repeats some), by recommend_graphs, a store for 100 patients at a time
    (the same answers as one at a time, faster)."""
    pairs = _collect(labelled_records(), DRAWS)
    distinct = list(dict.fromkeys(json.dumps(record, sort_keys=True) for _, record in pairs))
    graphs = []
    for number, text in enumerate(distinct):
        graph = Graph(store="SimpleMemory")
        problems = list(add_record(graph, {**json.loads(text), "id": f"S{number}"}))
        assert not problems, problems
        graphs.append(graph)
    found: dict[str, Recommendation] = {}
    for first in range(0, len(graphs), 100):
        found |= {rec.patient: rec for rec in recommend_graphs(graphs[first : first + 100], "oxigraph")}
    by_text = {text: found[f"S{number}"] for number, text in enumerate(distinct)}
    return [(label, record, by_text[json.dumps(record, sort_keys=True)]) for label, record in pairs]


def _of(label: str) -> Iterator[Drawn]:
    return (drawn for drawn in sample() if drawn[0] == label)


def _day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


VALIDATION = settings(
    max_examples=VALIDATED, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@VALIDATION
@given(labelled_records())
def test_every_record_is_valid_input(pair: tuple[str, dict[str, Any]]) -> None:
    """JSON Schema and SHACL shapes: no violation (warnings, e.g. genotyping below 1000 IU/mL, may be)."""
    label, record = pair
    event(label)
    report = validate_input(read_patient_text(json.dumps(record), Path("x.json")))
    assert report.conforms, [f for patient in report.patients for f in patient.findings if f.severity == "Violation"]


def test_sample_size() -> None:
    assert len(sample()) == DRAWS


def test_every_scenario_comes_up_often() -> None:
    counts = Counter(label for label, _, _ in sample())
    assert set(counts) == set(SCENARIOS)
    assert min(counts.values()) >= DRAWS // 20, counts


def test_package_rows_cover_every_overlap_table5_allows() -> None:
    """Every pair and triple of Table 4 rows comes up as exactly the rows the package computes."""
    assert sorted(map(sorted, OVERLAPS)) == sorted(map(sorted, PAIRS + TRIPLES))  # derived from the tables
    computed = Counter(frozenset(rec.table4_rows) for _, _, rec in sample())
    missing = [sorted(rows) for rows in PAIRS + TRIPLES if not computed[frozenset(rows)]]
    assert not missing, (missing, computed)
    for row in range(1, 9):
        assert computed[frozenset({row})], f"row {row} alone never came up"


def test_rows_are_those_the_tables_select() -> None:
    """The independent oracle (plan-spec R1.1 from the tables) and the package agree on rows 1-7."""
    for label, record, rec in sample():
        if rec.infection_state == "active":  # the plan reports rows for active R/R infection only
            assert set(rec.table4_rows) - {8} == table4_rows(record), (label, record, rec.table4_rows)


def test_overlapping_and_single_row_records_have_their_rows() -> None:
    for _, record, _ in _of(OVERLAPPING_ROWS):
        assert table4_rows(record) in OVERLAPS, record
    for _, record, _ in _of(SINGLE_ROW):
        assert len(table4_rows(record)) == 1, record


def test_low_level_ul97_beside_ul54() -> None:
    """Each low-level UL97 mutation (M460I, C592G, L595W) comes up beside a UL54 mutation."""
    low = {key for key, row in TABLE5.items() if row["gcv_level"] == "low"}
    assert len(low) == 3
    seen = Counter(
        key
        for _, record, _ in sample()
        for key in detected_mutations(record) & low
        if any(TABLE5[other]["gene"] == "UL54" for other in detected_mutations(record) if other in TABLE5)
    )
    assert set(seen) == low, seen


def test_letermovir_resistance_in_each_gene_beside_other_rows() -> None:
    genes = Counter(
        TABLE5[key]["gene"]
        for _, record, _ in sample()
        if len(table4_rows(record)) > 1
        for key in detected_mutations(record)
        if key in TABLE5 and "letermovir" in resisted(key)
    )
    assert set(genes) == {"UL51", "UL56", "UL89"}, genes


def test_failing_courses_rise_stay_and_fall() -> None:
    """The package judges the current course refractory, probable refractory or neither; some
    patients were switched from an earlier course, some are too early to judge. Every course is
    judged (FAQ1); the current one is the latest."""
    failing = [drawn for label in (OVERLAPPING_ROWS, SINGLE_ROW, REFRACTORY_WITHOUT_MUTATION) for drawn in _of(label)]
    statuses = Counter(str(rec.courses[-1].status) for _, _, rec in failing)
    judged = ("refractory", "probable-refractory", "neither")
    assert all(statuses[status] >= DRAWS // 100 for status in judged), statuses
    reasons = Counter(rec.courses[-1].reason for _, _, rec in failing)
    assert reasons["too-early"] >= DRAWS // 400, reasons
    switched = [record for _, record, _ in failing if sum(c["drug"] in TREATMENT for c in record["antivirals"]) == 2]
    assert len(switched) >= len(failing) // 5
    for _, record, rec in failing:
        current = [c for c in record["antivirals"] if c["drug"] in TREATMENT and "end" not in c]
        assert len(current) == 1 and rec.courses[-1].course_drug == current[0]["drug"], (record, rec.courses)
    drugs = Counter(rec.courses[-1].course_drug for _, _, rec in failing)
    assert set(drugs) == TREATMENT, drugs


def test_maribavir_failure() -> None:
    mutation_genes: Counter[str] = Counter()
    for _, record, rec in _of(MARIBAVIR_FAILURE):
        assert rec.refractory.course_drug == "maribavir" and rec.refractory.status == "refractory", rec.refractory
        assert not any("end" in c for c in record["antivirals"] if c["drug"] == "maribavir")
        resistance = [key for key in detected_mutations(record) if key in TABLE5 and "maribavir" in resisted(key)]
        assert resistance, record
        mutation_genes.update(TABLE5[key]["gene"] for key in resistance)
    assert set(mutation_genes) == {"UL97", "UL27"}, mutation_genes


def test_controlled_infection() -> None:
    for _, record, _ in _of(CONTROLLED_INFECTION):
        loads = record["viral_loads"]
        assert [load["iu_per_ml"] for load in loads[-2:]] == [0, 0], loads
        latest = max((c for c in record["antivirals"] if c["drug"] in TREATMENT), key=lambda c: c["start"])
        assert 14 <= (_day(loads[-1]["date"]) - _day(latest["start"])).days <= 42


def test_prophylaxis_blip() -> None:
    secondary = 0
    for _, record, _ in _of(PROPHYLAXIS_BLIP):
        last = record["viral_loads"][-1]
        assert last["specimen"] == "plasma" and 0 < last["iu_per_ml"] < 1000, last
        current = [c for c in record["antivirals"] if "end" not in c]
        assert [c["drug"] for c in current] == ["letermovir"], record["antivirals"]
        assert current[0]["intent"] in ("prophylaxis", "secondary-prophylaxis")
        secondary += current[0]["intent"] == "secondary-prophylaxis"
    assert secondary >= DRAWS // 200


def test_sites_and_host_factors() -> None:
    assert set(CNS_SITES) == CNS
    sites = Counter(
        "cns" if set(record["disease_sites"]) & CNS else "other" if record["disease_sites"] else "none"
        for _, record, _ in sample()
    )
    assert min(sites.values()) >= DRAWS // 10, sites
    assert {site for _, record, _ in sample() for site in record["disease_sites"]} >= CNS
    ages = [record["age_years"] for _, record, _ in sample()]
    assert sum(age < 18 for age in ages) >= DRAWS // 10
    steroids = [record["host_factors"]["steroid_mg_per_kg_per_day"] for _, record, _ in sample()]
    assert min(steroids) == 0 and max(steroids) == 2 and all(0 <= dose <= 2 for dose in steroids)


def test_dates_are_iso_within_2024_2026_and_consistent() -> None:
    first, last = datetime.date(2024, 1, 1), datetime.date(2026, 12, 31)
    for _, record, _ in sample():
        dates = [record["transplant"].get("date")]
        dates += [course[key] for course in record["antivirals"] for key in ("start", "end") if key in course]
        dates += [load["date"] for load in record["viral_loads"]] + [test["date"] for test in record["genotype_tests"]]
        for text in filter(None, dates):
            assert first <= _day(text) <= last and _day(text).isoformat() == text, text
        for course in record["antivirals"]:
            assert _day(course.get("end", course["start"])) >= _day(course["start"]), course
            if "date" in record["transplant"]:
                assert _day(course["start"]) >= _day(record["transplant"]["date"]), record
        assert [load["date"] for load in record["viral_loads"]] == sorted(
            load["date"] for load in record["viral_loads"]
        )


def test_intolerance_only_behind_the_flag() -> None:
    assert strategies.WITH_INTOLERANCE is True  # the record's intolerance field exists now
    strategies.WITH_INTOLERANCE = False
    try:
        assert not any("intolerance" in record for _, record in _collect(labelled_records(), 100))
    finally:
        strategies.WITH_INTOLERANCE = True
    drawn = [record for _, record in _collect(labelled_records(), 100)]
    lists = [record["intolerance"] for record in drawn if "intolerance" in record]
    assert len(lists) >= 10
    for entries in lists:
        assert entries and len({entry["drug"] for entry in entries}) == len(entries)
        assert all(entry["drug"] in TREATMENT and entry["reason"] for entry in entries)


def test_uncertain_variants_and_cns_compartments_come_up() -> None:
    uncertain = sum(bool(detected_mutations(record) - set(TABLE5)) for _, record, _ in sample())
    csf = sum(any(t["specimen"] == "csf" for t in record["genotype_tests"]) for _, record, _ in sample())
    assert uncertain >= DRAWS // 40 and csf >= DRAWS // 100, (uncertain, csf)
