"""cmvrr recommend and cmvrr query: formats, exit codes, the API, and the release queries on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import PROV

import kg_builder
from kg_builder.commands.cli import main
from kg_builder.commands.query import run_query
from kg_builder.paths import EXAMPLES_DIR, QUERIES_DIR

CASE = EXAMPLES_DIR / "cases" / "row2-low-level-ul97.json"
RELEASE_QUERIES = ["table5-mutations", "table4-options", "graded-statements", "grade-disagreements"]


def test_recommend_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(CASE), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"patient", "susceptibility", "uncertain_mutations", "refractory", "genotype_testing",
                         "table4_rows", "options", "excluded", "advice", "warnings"}  # fmt: skip
    assert set(data["susceptibility"]["ganciclovir"]) >= {"status", "mutations", "sources"}
    assert set(data["refractory"]) >= {"status", "evidence"}
    option = data["options"][0]
    assert {"rank", "action", "therapy", "regimen", "condition", "grade", "statements", "references"} <= set(option)
    assert option["regimen"] == {"id": "ganciclovir-high-dose", "min_mg_per_kg": 7.5, "max_mg_per_kg": 10.0,
                                 "dose_mg": None, "interval_h": 12.0}  # fmt: skip
    assert data["table4_rows"] == [2]  # Table 4 row 2: C592G


def test_recommend_turtle_links_findings_to_their_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(CASE), "--format", "turtle"]) == 0
    graph = Graph().parse(data=capsys.readouterr().out, format="turtle")
    option = URIRef("https://w3id.org/cmv-rr/patient/CASE-ROW2/finding/option/1")
    sources = set(graph.objects(option, PROV.wasDerivedFrom))
    assert URIRef("https://w3id.org/cmv-rr/table4-row-2-option-1") in sources
    assert URIRef("https://w3id.org/cmv-rr/faq9-high-dose-ganciclovir") in sources


def test_recommend_text_is_a_readable_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(CASE)]) == 0
    text = capsys.readouterr().out
    headings = ("Plan: active resistant or refractory CMV infection", "Evidence",
                "Susceptibility (Table 5; HerpesDRG where Table 5 is silent)", "Refractory status (FAQ1): refractory",
                "Genotype testing (FAQ6)", "Table 4 rows that apply: 2", "General advice",
                "not a medical device")  # fmt: skip
    for heading in headings:
        assert heading in text
    # The plan a clinician acts on comes first: do, then what to avoid, each with its reason.
    assert text.index("Plan:") < text.index("Evidence") < text.index("Susceptibility")
    assert "DO        1. optimize ganciclovir 7.5-10 mg/kg every 12 h" in text
    assert "AVOID     letermovir" in text


def test_recommend_rejects_a_patient_that_does_not_conform(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(EXAMPLES_DIR / "invalid" / "wrong-reference-residue.json")]) == 1
    assert "UL97 has C at position 592, not A" in capsys.readouterr().out


def test_api(tmp_path: object) -> None:
    [result] = kg_builder.recommend(CASE)
    assert result.options[0].therapy == "ganciclovir"
    assert kg_builder.validate(CASE).conforms
    with pytest.raises(kg_builder.PatientDoesNotConform):
        kg_builder.recommend(EXAMPLES_DIR / "invalid" / "negative-viral-load.json")
    assert len(kg_builder.load_patient(CASE)) > 20
    assert sorted(kg_builder.__all__) == kg_builder.__all__


# SPARQL leaves the order inside GROUP_CONCAT open, and engines differ on an empty group ("" or
# unbound): compare such columns as sets of tokens.
CONCATENATED = {"therapies", "references", "resistantTo", "susceptibleTo"}


def _tokens(value: str | None) -> str:
    return " ".join(sorted((value or "").split()))


def _normal(rows: list[dict[str, str | None]]) -> list[str]:
    return sorted(
        json.dumps(
            {k: " ".join(sorted((v or "").split())) if k in CONCATENATED else v for k, v in row.items()}, sort_keys=True
        )
        for row in rows
    )


@pytest.mark.parametrize("name", RELEASE_QUERIES)
def test_release_queries_agree_on_both_engines(name: str) -> None:
    _, fast = run_query(name, engine_name="oxigraph")
    _, reference = run_query(name, engine_name="rdflib")
    assert fast and _normal(fast) == _normal(reference)


def test_query_command_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "susceptibility", "--patient", str(CASE), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "patient,patientGraph,drug,status,detectionLimit"
    assert any(",https://w3id.org/cmv-rr/ganciclovir,resistant," in line for line in lines)
    assert main(["query", str(QUERIES_DIR / "table4-options.rq")]) == 0
    assert "(23 rows)" in capsys.readouterr().out
    assert main(["query", "no-such-query"]) == 2
    assert "no query 'no-such-query'" in capsys.readouterr().err


def test_readme_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    REPO_README = Path(__file__).resolve().parents[1] / "README.md"

    [block] = re.findall(r"```python\n(.*?)```", REPO_README.read_text(), flags=re.S)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(1, 3)" in out and "UL54 A809V confers resistance" in out
