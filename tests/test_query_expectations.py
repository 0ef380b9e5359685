"""Every decision query, on rdflib and pyoxigraph, gives the answers stored beside the tests."""

from __future__ import annotations

import json

import pytest
from query_expectations import CASES, EXPECTED_DIR, answers

from kg_builder.decisions.decide import local
from kg_builder.decisions.engines import ENGINES, query_text
from kg_builder.knowledge.tables import Tables
from kg_builder.paths import QUERIES_DIR


@pytest.mark.parametrize("engine", ["rdflib", "oxigraph"])
@pytest.mark.parametrize("case", CASES)
def test_queries_give_the_stored_answers(case: str, engine: str) -> None:
    expected = json.loads((EXPECTED_DIR / f"{case}.json").read_text())
    assert answers(case, engine) == expected


def test_the_fixtures_exercise_every_decision_query() -> None:
    used = {key.split()[0] for case in CASES for key in json.loads((EXPECTED_DIR / f"{case}.json").read_text())}
    release_queries = {"table5-mutations", "table4-options", "graded-statements", "grade-disagreements"}
    # no patient input: checked against the tables below
    knowledge_only = {"statement-details", "options", "thresholds"}
    cohort = {path.stem for path in QUERIES_DIR.glob("cohort-*.rq")}  # over a cohort store: tests/test_cohort.py
    second_source = {"source-conflicts"}  # over HerpesDRG's measurements: tests/test_herpesdrg.py
    assert used == {path.stem for path in QUERIES_DIR.glob("*.rq")} - release_queries - knowledge_only - cohort - (
        second_source
    )


def test_statement_details_match_the_curated_grades_on_both_engines(tables: Tables) -> None:
    curated = {row["id"]: f"{row['strength']}-{row['evidence']}" for row in tables["recommendations"]}
    for engine in ("rdflib", "oxigraph"):
        rows = ENGINES[engine]({}).select(query_text("statement-details"), {})
        assert {local(str(row["statement"])): row["grade"] for row in rows} == curated, engine


def test_options_list_every_curated_option_of_every_row_on_both_engines(tables: Tables) -> None:
    """options.rq, run once with ?row unbound (decide.py caches it), gives each Table 4 option
    with each of its therapies, in the order of the guideline's table."""
    curated = {
        (f"table4-row-{row['row']}", int(row["rank"]), row["option"], therapy)
        for row in tables["table4-options"]
        for therapy in row["therapies"].split()
    }
    for engine in ("rdflib", "oxigraph"):
        rows = ENGINES[engine]({}).select(query_text("options"), {})
        found = {
            (local(row["row"]), int(str(row["rank"])), local(row["option"]), local(row["therapy"])) for row in rows
        }
        assert found == curated, engine


def test_thresholds_are_the_curated_thresholds_on_both_engines(tables: Tables) -> None:
    """thresholds.rq, which reason texts read (decide.thresholds), gives thresholds.tsv's values."""
    curated = {row["threshold"]: (float(row["value"]), row["unit"]) for row in tables["thresholds"]}
    for engine in ("rdflib", "oxigraph"):
        rows = ENGINES[engine]({}).select(query_text("thresholds"), {})
        assert {local(row["threshold"]): (float(str(row["value"])), row["unit"]) for row in rows} == curated, engine
