"""The cmvrr command: exit codes, messages that name file and line, nothing written half-way."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg_builder.commands.cli import EXAMPLES, main
from kg_builder.commands.query import query_list
from kg_builder.knowledge import specs as specs_module


def test_build_writes_release_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--out", str(tmp_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(Path(path).name for path in report["written"]) == [
        "cmv-rr-herpesdrg.ttl",
        "cmv-rr.jsonld",
        "cmv-rr.nt",
        "cmv-rr.owl",
        "cmv-rr.ttl",
    ]


def test_bad_table_row_exits_1_names_file_and_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "tables"
    shutil.copytree(specs_module.TABLES_DIR, copy)
    genes = copy / "genes.tsv"
    genes.write_text(genes.read_text().replace("\t707\t", "\t-707\t"))
    monkeypatch.setattr(specs_module, "TABLES_DIR", copy)
    out = tmp_path / "release"
    assert main(["build", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "genes.tsv:7" in error and "protein_length" in error
    assert "Traceback" not in error
    assert not out.exists() or not any(out.iterdir())


def test_usage_error_exits_2_without_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "kg_builder", "build"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--out" in result.stderr and "Traceback" not in result.stderr


def test_version_is_the_installed_packages() -> None:
    from importlib.metadata import version

    import kg_builder

    result = subprocess.run([sys.executable, "-m", "kg_builder", "--version"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, f"cmvrr {version('cmv-rr')}\n")
    assert kg_builder.__version__ == version("cmv-rr")


def test_help_teaches_with_examples() -> None:
    result = subprocess.run([sys.executable, "-m", "kg_builder", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "exit codes" in result.stdout and "cmvrr build --out" in result.stdout
    assert "not a medical device" in result.stdout


def test_bare_cmvrr_prints_the_overview() -> None:
    result = subprocess.run([sys.executable, "-m", "kg_builder"], capture_output=True, text=True)
    assert result.returncode == 0 and "COMMAND" in result.stdout and "exit codes" in result.stdout


@pytest.mark.parametrize(
    "command",
    [["query", "table5-mutations"], ["recommend", "ontology/examples/cases/t-high-dose-gcv.json"]],
)
def test_output_into_a_closed_pipe_ends_quietly(command: list[str]) -> None:
    """`cmvrr query table5-mutations | head -3`: no BrokenPipeError traceback, exit 0 (issue 14)."""
    reader = subprocess.Popen([sys.executable, "-m", "kg_builder", *command], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)  # fmt: skip
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.read(40)  # the first lines arrive, then the reader goes away (| head -c 40)
    reader.stdout.close()
    errors = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 0, errors
    assert "Traceback" not in errors and "BrokenPipe" not in errors


def test_the_readme_exit_code_table_is_the_one_the_program_uses() -> None:
    from kg_builder.errors import EXIT_CODES
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", readme, re.M))
    assert {int(code): meaning for code, meaning in rows.items()} == EXIT_CODES


def test_turtle_output_of_a_patient_that_does_not_conform_is_empty_and_the_report_on_stderr() -> None:
    patient = "ontology/examples/invalid/unknown-drug.json"
    result = subprocess.run([sys.executable, "-m", "kg_builder", "recommend", patient, "--format", "turtle"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert "does NOT conform" in result.stderr


CASES = sorted((Path(__file__).resolve().parents[1] / "ontology" / "examples" / "cases").glob("*.json"))
INPUTS = {row["name"]: row["inputs"] for row in query_list()}
PATIENT_QUERIES = sorted(name for name, inputs in INPUTS.items() if inputs.startswith("?patient"))


@pytest.mark.parametrize("case", CASES, ids=lambda path: path.stem)
def test_cmvrr_query_gives_the_answer_recommend_gives(case: Path) -> None:
    """Every packaged patient query through `cmvrr query --patient` gets the inputs recommend
    derives (?refractory, ?failedToDecline, ?triggerDay), so its rows are the rows recommend
    reads; and table4-rows names exactly the rows the plan uses."""
    from kg_builder import recommend
    from kg_builder.api import load_patient
    from kg_builder.commands.query import run_query
    from kg_builder.decisions.decide import _Queries, derived_inputs, prepare
    graph = load_patient(case)
    [rec] = recommend(case)
    answers = {name: run_query(name, graph)[1] for name in PATIENT_QUERIES}  # each in a store of its own
    engine, patients = prepare([graph])
    try:
        derived = derived_inputs(engine, patients)
        for name in PATIENT_QUERIES:
            header = INPUTS[name]  # the query's own "# Input bindings:" line
            taken = [key for key in ("refractory", "failedToDecline", "triggerDay") if f"?{key}" in header]
            inputs = {patient: {key: values[key] for key in taken} for patient, values in derived.items()}
            [expected] = _Queries(engine, patients)(name, inputs if taken else None).values()
            assert canonical_rows(answers[name]) == canonical_rows(expected), name
    finally:
        engine.close()
    rows = sorted({int(str(row["rowNumber"])) for row in answers["table4-rows"]})
    # The query says which rows' conditions hold; the plan uses them only for active infection.
    assert rows == sorted(rec.table4_rows) if rec.infection_state == "active" else not rec.table4_rows


def canonical_rows(rows: list[dict[str, str | None]]) -> list[tuple[tuple[str, str], ...]]:
    return sorted(tuple(sorted((key, str(value)) for key, value in row.items())) for row in rows)


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_each_command_help_has_its_own_examples(command: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([command, "--help"])
    shown = out.getvalue()
    assert "exit codes:" in shown
    assert all(example in shown for example in EXAMPLES[command])
    others = [e for name, lines in EXAMPLES.items() if name != command for e in lines if f"cmvrr {command} " not in e]
    assert not any(example in shown for example in others), "only its own examples"


def test_bare_help_lists_one_example_per_command() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--help"])
    assert all(lines[0] in out.getvalue() for lines in EXAMPLES.values())


READ_ONLY = ("cmvrr validate", "cmvrr recommend ontology", "cmvrr query")
RUNNABLE = [line.split("#")[0].strip() for lines in EXAMPLES.values() for line in lines
            if line.startswith(READ_ONLY) and "--store" not in line]  # fmt: skip


@pytest.mark.parametrize("example", RUNNABLE)
def test_the_help_examples_that_read_only_run_as_written(example: str) -> None:
    import glob
    import os
    import shlex

    root = Path(__file__).resolve().parents[1]
    words = [match for word in shlex.split(example)[1:] for match in (sorted(glob.glob(word, root_dir=root)) or [word])]
    previous = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(words)
    finally:
        os.chdir(previous)
    assert code == (1 if "invalid" in example else 0), example


def test_the_readme_vocabulary_is_the_one_records_are_checked_against() -> None:
    from kg_builder.commands.cli import vocab_text

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = readme.split("<!-- vocab -->\n", 1)[1].split("\n<!-- /vocab -->", 1)[0]
    assert listed == vocab_text()


def test_validate_over_a_glob_of_the_examples_reads_patients_only(capsys: pytest.CaptureFixture[str]) -> None:
    """`cmvrr validate ontology/examples/invalid/*` once validated the expected reports as patients."""
    folder = Path(__file__).resolve().parents[1] / "ontology" / "examples" / "invalid"
    files = sorted(str(path) for path in folder.iterdir())
    assert main(["validate", *files]) == 1
    shown = capsys.readouterr().out
    assert "describes no cmvrr:Patient" not in shown and f"{len(files)} patient(s) checked" in shown


def test_every_option_with_a_default_states_it() -> None:
    import argparse

    from kg_builder.commands.cli import _parser

    parser = _parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    silent = [
        f"{name} {'/'.join(action.option_strings)}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS, [], 0)
        and "default" not in (action.help or "")
    ]
    assert silent == []


def test_a_query_leaves_no_patient_behind_in_the_shared_store() -> None:
    """cmvrr query (or run_query from the API) once left the patient's graph in the process's
    shared store: the next recommendation for the same patient IRI got both graphs merged."""
    from kg_builder import recommend
    from kg_builder.api import load_patient
    from kg_builder.commands.query import run_query

    turtle = Path(__file__).resolve().parents[1] / "ontology" / "examples" / "valid" / "wild-type-refractory.ttl"
    before = recommend(turtle)
    run_query("table4-rows", load_patient(turtle))
    with pytest.raises(Exception, match="no query"):
        run_query("no-such-query", load_patient(turtle))
    assert recommend(turtle) == before
    record = json.loads((turtle.parent.parent / "cases" / "wild-type-refractory.json").read_text())
    record["id"] = "P-WT"  # the same patient IRI as the Turtle file, other data
    run_query("refractory", load_patient(record))
    assert recommend(turtle) == before
