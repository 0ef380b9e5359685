"""The cmvrr command: exit codes, messages that name file and line, nothing written half-way."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg_builder.commands.cli import main
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
