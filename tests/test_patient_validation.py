"""cmvrr validate: fixtures and their expected reports, named rejections, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REFERENCE
from rdflib.compare import isomorphic
from regenerate_expected_reports import expected_report, report_path

from kg_builder.checks.validate import validate_files
from kg_builder.commands.cli import main
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_file, read_patient_text

FIXTURES = sorted(p for folder in ("invalid", "warnings") for p in (EXAMPLES_DIR / folder).iterdir())
VALID = sorted((EXAMPLES_DIR / "valid").iterdir())


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_gives_its_expected_report(path: Path) -> None:
    expected = json.loads(report_path(path).read_text())
    assert expected_report(path) == expected


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_invalid_fixture_breaks_exactly_one_thing(path: Path) -> None:
    [patient] = json.loads(report_path(path).read_text())
    violations = [f for f in patient["findings"] if f["severity"] == "Violation"]
    if path.parent.name == "invalid":
        assert len(violations) == 1 and not patient["conforms"]
    else:
        assert not violations and patient["conforms"] and patient["findings"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture_conforms_without_findings(path: Path) -> None:
    [report] = validate_files([path])
    assert report.conforms and all(not p.findings for p in report.patients)


@pytest.mark.parametrize(("fixture", "says"), [
    ("mutation-outside-protein.json", "position 892 lies outside UL97, whose protein has 707 residues"),
    ("wrong-reference-residue.json", "UL97 has C at position 592, not A"),
    ("unknown-gene.json", "must be a CMV gene the knowledge graph knows"),
    ("unknown-drug-in-intolerance.json", "'foscarnett' is not a therapy the knowledge graph knows; did you mean"),
    ("negative-viral-load.json", "zero or more (not negative"),
    ("viral-load-without-date.json", "'date' is required"),
    ("viral-load-without-date-turtle.ttl", "needs the one date its specimen was taken"),
])  # fmt: skip
def test_named_rejections(fixture: str, says: str) -> None:
    """Issue 3 'Done when': these patients are rejected with a message that names the problem."""
    [report] = validate_files([EXAMPLES_DIR / "invalid" / fixture])
    assert not report.conforms
    assert any(says in finding.message for p in report.patients for finding in p.findings)


def test_json_and_turtle_give_the_same_graph(tmp_path: Path) -> None:
    source = EXAMPLES_DIR / "valid" / "mixed-ul97-ul54.json"
    graph = read_patient_file(source).graph
    turtle = tmp_path / "same.ttl"
    turtle.write_text(graph.serialize(format="turtle"))
    assert isomorphic(read_patient_file(turtle).graph, graph)
    assert validate_files([turtle])[0].conforms


def test_reference_fasta_checks_positions_the_knowledge_graph_does_not_know(tmp_path: Path) -> None:
    """Safety rule 3: with --reference, every position is checked (UL97 residue 100 is not in Table 5)."""
    fasta = REFERENCE / "hcmv_merlin_proteins.fasta"
    if not fasta.exists():
        pytest.skip("no reference FASTA")
    sequence = "".join(
        line for line in fasta.read_text().split(">UL97")[1].splitlines()[1:] if not line.startswith(">")
    )
    wrong = "W" if sequence[99] != "W" else "A"
    record = json.loads((EXAMPLES_DIR / "valid" / "ul97-low-level.json").read_text())
    record["genotype_tests"][0]["mutations"] = [f"UL97:{wrong}100G"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(record))
    assert main(["validate", str(path)]) == 0
    assert main(["validate", str(path), "--reference", str(fasta)]) == 1


def test_exit_codes_and_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, VALID)]) == 0
    assert main(["validate", str(EXAMPLES_DIR / "invalid" / "unknown-drug.json")]) == 1
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "P1",\n "age_years": }')
    capsys.readouterr()
    assert main(["validate", str(broken)]) == 2
    assert f"{broken}:2:" in capsys.readouterr().err
    turtle = tmp_path / "broken.ttl"
    turtle.write_text("@prefix cmvrr: <https://w3id.org/cmv-rr/> .\ncmvrr:a cmvrr:b .\n")
    assert main(["validate", str(turtle)]) == 2
    error = capsys.readouterr().err
    assert f"{turtle}:2: not valid RDF: objectList expected" in error and "Traceback" not in error


def test_json_output_has_the_same_findings(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES_DIR / "invalid" / "negative-viral-load.json"
    assert main(["validate", str(path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["conforms"] is False
    [patient] = report["files"][0]["patients"]
    assert patient["findings"][0]["path"] == "cmvrr:iuPerMl" and patient["findings"][0]["value"] == "-48000"


def test_readme_json_record_validates(tmp_path: Path) -> None:
    REPO_README = Path(__file__).resolve().parents[1] / "README.md"

    [block] = re.findall(r"```json\n(.*?)```", REPO_README.read_text(), flags=re.S)
    path = tmp_path / "readme.json"
    path.write_text(block)
    [report] = validate_files([path])
    assert report.conforms, report


def test_readme_first_command_runs() -> None:
    REPO_README = Path(__file__).resolve().parents[1] / "README.md"

    first = re.search(r"```bash\n(.*?)\n", REPO_README.read_text())
    assert first is not None
    arguments = first.group(1).split("&& cmvrr ", 1)[1].split()
    assert main(arguments) == 0


@pytest.mark.parametrize(
    ("field", "value", "suggestion"),
    [("drug", "gancyclovir", "ganciclovir"), ("drug", "valganciclovir (Valcyte)", "valganciclovir"),
     ("drug", "Foscavir", ""), ("specimen", "plasm", "plasma")],
)  # fmt: skip
def test_a_bad_vocabulary_word_is_reported_one_way_path_value_allowed_and_a_suggestion(
    field: str, value: str, suggestion: str
) -> None:
    """Whatever rule catches it (the schema's enum or the knowledge graph's therapies), a bad word
    is named by its JSON path and value, with the allowed words and a did-you-mean when one is close."""
    from kg_builder.pipeline import evaluate

    record = json.loads((EXAMPLES_DIR / "cases" / "r1-gcv.json").read_text())
    where = record["antivirals"][1] if field == "drug" else record["viral_loads"][0]
    where[field] = value
    report, _ = evaluate(read_patient_text(json.dumps(record), Path("bad-word.json")))
    [finding] = [f for p in report.patients for f in p.findings if f.severity == "Violation"]
    expected_path = "/antivirals/1/drug" if field == "drug" else "/viral_loads/0/specimen"
    assert finding.path == expected_path and repr(value) in finding.message
    assert ("ganciclovir" if field == "drug" else "whole-blood") in finding.message, "the allowed words"
    assert (f"did you mean {suggestion!r}?" in finding.message) == bool(suggestion), finding.message
