"""Nothing breaks, nothing is lost: one bad patient never stops a batch, and an input the
decisions cannot use never passes validation (docs/architecture.md, Bad input).

Each bad line below once ended `recommend --batch` with a traceback and no output at all.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal
from rdflib.namespace import XSD

from kg_builder.commands.batch import run_batch
from kg_builder.commands.cli import main
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_text
from kg_builder.patients.record import records_graph
from kg_builder.pipeline import evaluate
from kg_builder.terms import CMVRR

GOOD = json.loads((EXAMPLES_DIR / "cases" / "r1-gcv.json").read_text())


def _good(patient_id: str) -> bytes:
    return json.dumps({**GOOD, "id": patient_id}).encode()


def _with(patient_id: str, change: Any) -> bytes:
    record = json.loads(json.dumps(GOOD))
    record["id"] = patient_id
    change(record)
    return json.dumps(record).encode()


def _mutation(record: dict[str, Any], text: str) -> None:
    record["genotype_tests"][0]["mutations"] = [text]


def _load_date(text: str) -> Any:
    return lambda record: record["viral_loads"][0].update(date=text)


ARABIC_INDIC_DATE = "\u0662\u0660\u0662\u0665-\u0660\u0661-\u0660\u0661"  # 2025-01-01 in other digits
NOT_SITES = [{"n": i} for i in range(5000)]

# name -> (the line, the status its output line must have)
BAD_LINES: dict[str, tuple[bytes, str]] = {
    "nested 1,000 deep": (b"[" * 1000 + b"]" * 1000, "error"),
    "nested 100,000 deep": (b'{"id": ' * 100_000, "error"),
    "invalid UTF-8 byte": (_good("BAD-\xff").replace(b"BAD-\\u00ff", b"BAD-\xff"), "error"),
    "lone surrogate escape": (_good("SURROGATE").replace(b"SURROGATE", b"\\ud800"), "error"),
    "id ending in a newline": (_good("NEWLINE").replace(b'"NEWLINE"', b'"NEWLINE\\n"'), "does-not-conform"),
    "terminal escape in the id": (_good("ESC").replace(b'"ESC"', b'"\\u001b[31mESC"'), "does-not-conform"),
    "position of 5,000 digits": (_with("BIG", lambda r: _mutation(r, "UL97:H" + "5" * 5000 + "Q")), "does-not-conform"),
    "integer of 5,000 digits": (b'{"id": "BIGINT", "age_years": ' + b"9" * 5000 + b"}", "error"),
    "year 0000": (_with("Y0", _load_date("0000-01-01")), "does-not-conform"),
    "five-digit year": (_with("Y5", _load_date("20250-01-01")), "does-not-conform"),
    "Arabic-Indic digits in a date": (_with("AD", _load_date(ARABIC_INDIC_DATE)), "does-not-conform"),
    "NaN": (b'{"id": "NAN", "age_years": NaN}', "error"),
    "not JSON": (b"{'id': 'single quotes'}", "error"),
    "a bare string": (b'"just text"', "does-not-conform"),
    "5,000 objects as disease sites": (_with("SITES", lambda r: r.update(disease_sites=NOT_SITES)), "does-not-conform"),
}


def _batch(tmp_path: Path, lines: list[bytes]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_bytes(b"".join(line + b"\n" for line in lines))
    summary = run_batch([cohort], tmp_path / "out.jsonl", jobs=1, force=True)  # hypothesis reuses tmp_path
    return summary, [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", BAD_LINES)
def test_one_bad_line_costs_only_its_own_result(name: str, tmp_path: Path) -> None:
    line, status = BAD_LINES[name]
    summary, out = _batch(tmp_path, [_good("FIRST"), line, _good("LAST")])
    assert [o["status"] for o in out] == ["ok", status, "ok"], out[1]
    assert [o["source"] for o in out] == [f"{tmp_path / 'cohort.jsonl'}:{n}" for n in (1, 2, 3)]
    assert out[0]["patient"] == "FIRST" and out[2]["patient"] == "LAST"
    assert out[1]["problems"], "a failed line says why"
    if status == "error":  # it names its own place, not a made-up item.json
        assert out[1]["problems"][0].startswith(f"{tmp_path / 'cohort.jsonl'}:2"), out[1]["problems"]
    assert summary["patients"] == 3 and summary["ok"] == 2 and summary[status] == 1


def test_control_characters_are_shown_escaped_never_raw(tmp_path: Path) -> None:
    _, out = _batch(tmp_path, [BAD_LINES["terminal escape in the id"][0]])
    assert "\x1b" not in json.dumps(out[0]["problems"], ensure_ascii=False).replace("\\u001b", "")
    code, text, _ = _cli(["validate", str(_write(tmp_path / "esc.json", BAD_LINES["terminal escape in the id"][0]))])
    assert code == 1 and "\x1b" not in text and "\\x1b[31mESC" in text


def test_a_json_list_keeps_the_good_patients_result(tmp_path: Path) -> None:
    """One file with a good and a bad record: the good patient's plan is kept (one item per record)."""
    both = tmp_path / "two.json"
    both.write_text(json.dumps([{**GOOD, "id": "GOOD"}, {**GOOD, "id": "BAD", "age_years": -4}]))
    summary = run_batch([both], tmp_path / "out.jsonl", jobs=1)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(o["source"], o["status"], o["patient"]) for o in out] == [
        (f"{both}#/0", "ok", "GOOD"),
        (f"{both}#/1", "does-not-conform", "BAD"),
    ]
    assert summary["ok"] == 1


BAD = st.sampled_from(sorted(BAD_LINES)).map(lambda name: BAD_LINES[name][0])
ANY_BYTES = st.binary(max_size=60).filter(lambda line: b"\n" not in line and b"\r" not in line)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.just(b"GOOD"), BAD, ANY_BYTES), min_size=1, max_size=6))
def test_a_batch_writes_one_line_per_input_line_whatever_the_mix(tmp_path: Path, mix: list[bytes]) -> None:
    lines = [_good(f"G{n}") if line == b"GOOD" else line for n, line in enumerate(mix)]
    summary, out = _batch(tmp_path, lines)
    expected = [n for n, line in enumerate(lines, start=1) if line.strip()]
    assert [o["source"].rsplit(":", 1)[1] for o in out] == [str(n) for n in expected]
    assert summary["patients"] == len(out)
    for line, result in zip([lines[n - 1] for n in expected], out, strict=True):
        if line.startswith(b'{"id": "G'):
            assert result["status"] == "ok"


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["validate", "recommend"])
@pytest.mark.parametrize("name", BAD_LINES)
def test_each_bad_input_alone_gets_a_message_and_an_exit_code_never_a_traceback(
    name: str, command: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "patient.json", BAD_LINES[name][0])
    code, out, err = _cli([command, str(path)])
    assert code in (1, 2), (code, out, err)
    assert "Traceback" not in out + err
    assert str(path) in (out if code == 1 else err)


# Dates across the whole xsd:date space -------------------------------------------------------


def _lexical(year: int, month: int, day: int) -> str:
    sign = "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}"


def _usable(year: int, month: int, day: int) -> bool:
    """A date the decisions can use: a calendar date from 1950-01-01 to 2100-12-31 (patient.ttl)."""
    try:
        return datetime.date(1950, 1, 1) <= datetime.date(year, month, day) <= datetime.date(2100, 12, 31)
    except ValueError:
        return False


YEARS = st.integers(-99999, 99999) | st.integers(1940, 2110) | st.sampled_from([0, 1, 1949, 1950, 2100, 2101, 9999])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YEARS, st.integers(0, 13), st.integers(0, 32), st.sampled_from(["startDate", "measuredOn"]))
def test_a_date_passes_validation_only_if_the_decisions_can_use_it(
    year: int, month: int, day: int, which: str
) -> None:
    """Every date the decisions use is one the shapes accept, and the shapes reject what the
    decisions cannot use: before, year 0000 passed and the course silently became not assessable."""
    graph, problems = records_graph(json.loads(json.dumps({**GOOD, "id": "DATES"})))
    assert not problems
    lexical = _lexical(year, month, day)
    [subject] = [s for s, o in graph.subject_objects(CMVRR[which])
                 if str(o) in ("2025-03-20", "2025-04-05") and "genotype" not in str(s)]  # fmt: skip
    graph.set((subject, CMVRR[which], Literal(lexical, datatype=XSD.date)))
    report, recommendations = evaluate(read_patient_text(graph.serialize(format="turtle"), Path("dates.ttl")))
    assert report.conforms == _usable(year, month, day), (lexical, report.patients[0].findings)
    if report.conforms and which == "startDate":
        [rec] = recommendations
        assert any(course.course_start == lexical for course in rec.courses), (lexical, rec.courses)
    if report.conforms and which == "measuredOn":
        [rec] = recommendations
        shown_dates = {m.date for course in rec.courses for m in (course.baseline, course.follow_up) if m}
        assert lexical in shown_dates or not _near(lexical), (lexical, rec.courses)


def _near(lexical: str) -> bool:
    """A follow-up load from day 14 of the 2025-03-20 course is one the course is judged on."""
    return datetime.date.fromisoformat(lexical) >= datetime.date(2025, 4, 3)


# One patient, one graph; interrupted writes leave nothing behind ------------------------------

TWO_PATIENTS = """\
@prefix cmvrr: <https://w3id.org/cmv-rr/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://w3id.org/cmv-rr/patient/TWO-A> a cmvrr:Patient ; cmvrr:ageYears 40.0 .
<https://w3id.org/cmv-rr/patient/TWO-B> a cmvrr:Patient ; cmvrr:ageYears 51.0 .
"""


def test_each_patient_graph_of_a_cohort_holds_its_own_data_only(tmp_path: Path) -> None:
    import pyoxigraph

    from kg_builder.commands.cohort import load_cohort

    two = _write(tmp_path / "two.ttl", TWO_PATIENTS.encode())
    listed = _write(tmp_path / "list.json", json.dumps([{**GOOD, "id": "L1"}, {**GOOD, "id": "L2"}]).encode())
    summary = load_cohort([two, listed], tmp_path / "db", jobs=1)
    assert summary["ok"] == 4
    store = pyoxigraph.Store.read_only(str(tmp_path / "db"))
    query = "SELECT ?g (COUNT(?p) AS ?n) { GRAPH ?g { ?p a <https://w3id.org/cmv-rr/Patient> } } GROUP BY ?g"
    patients_per_graph = {str(row["g"].value): int(row["n"].value) for row in store.query(query)}
    assert len(patients_per_graph) == 4 and set(patients_per_graph.values()) == {1}, patients_per_graph


def _slow_cohort(tmp_path: Path) -> Path:
    from kg_builder.commands.synth import synthetic_patients

    cohort = tmp_path / "big.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in synthetic_patients(4000, seed=3)))
    return cohort


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", ["batch", "load-cohort"])
def test_an_interrupted_run_leaves_no_output_and_no_staging_files(
    command: str, signal_name: str, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    cohort = _slow_cohort(tmp_path)
    target = tmp_path / ("out.jsonl" if command == "batch" else "db")
    argv = ["recommend", "--batch", str(cohort), "--out", str(target)] if command == "batch" else [
        "load-cohort", str(cohort), "--store", str(target)]  # fmt: skip
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    environment = {**os.environ, "TMPDIR": str(scratch)}
    process = subprocess.Popen(
        [sys.executable, "-m", "kg_builder", *argv], stderr=subprocess.PIPE, text=True, env=environment
    )
    time.sleep(6)  # well into the work: past the caches, writing the staging file
    assert process.poll() is None, "the run must still be going to be interrupted"
    process.send_signal(getattr(signal, signal_name))
    _, err = process.communicate(timeout=60)
    assert process.returncode == (130 if signal_name == "SIGINT" else 143), err
    assert "Traceback" not in err and err.strip().endswith(("interrupted", "terminated")), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl", "tmp"], "no output, no staging file"
    assert not list(scratch.iterdir()), "nothing left in $TMPDIR"


RDF_INPUTS = {
    "bad.ttl": ("<urn:a> a <urn:P> ;\n  <urn:p> 40\n<urn:b> a <urn:P> .\n", ":3: not valid RDF: expected '.'"),
    "formula.n3": ("{ <urn:a> a <urn:P> } => { <urn:b> a <urn:P> } .\n", "an N3 formula"),
    "literal.ttl": ('"lit" <urn:p> <urn:o> .\n', "the literal 'lit' as the subject"),
    "space.ttl": ("<https://w3id.org/cmv-rr/patient/A\\u0020B> a <urn:P> .\n", "holds a character no IRI may hold"),
    "quote.ttl": ("<https://w3id.org/cmv-rr/patient/Q\\u0022> a <urn:P> .\n", "holds a character no IRI may hold"),
    "laughs.rdf": ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r/>', "with entity declarations is refused"),
}


@pytest.mark.parametrize("command", ["validate", "recommend"])
@pytest.mark.parametrize("name", RDF_INPUTS)
def test_rdf_the_stores_cannot_hold_is_refused_with_the_reason(name: str, command: str, tmp_path: Path) -> None:
    text, reason = RDF_INPUTS[name]
    path = _write(tmp_path / name, text.encode())
    code, out, err = _cli([command, str(path)])
    assert code == 2 and "Traceback" not in out + err
    assert err.startswith(f"cmvrr {command}: {path}") and reason in err, err


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_devices_and_fifos_are_refused_before_reading(special: str, tmp_path: Path) -> None:
    import os

    path = Path(special)
    if special == "fifo":
        path = tmp_path / "patient.json"
        os.mkfifo(path)
    code, _, err = _cli(["validate", str(path)])
    assert code == 2 and "not a regular file" in err


def test_output_to_a_full_disk_is_a_runtime_failure_in_one_line() -> None:
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "kg_builder", "recommend", str(EXAMPLES_DIR / "cases" / "r1-gcv.json")],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 3 and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_output_never_clobbers_an_input_or_an_existing_file_without_force(tmp_path: Path) -> None:
    import os

    cohort = _write(tmp_path / "cohort.jsonl", _good("ONE") + b"\n")
    for source, out in ((cohort, cohort), (tmp_path, tmp_path / "r.jsonl")):  # the input; inside the input folder
        code, _, err = _cli(["recommend", "--batch", str(source), "--out", str(out)])
        assert code == 2 and "the output would overwrite or lie inside the input" in err, err
    assert cohort.read_bytes() == _good("ONE") + b"\n"
    target = tmp_path / "results" / "r.jsonl"
    old = os.umask(0o022)
    try:
        assert _cli(["recommend", "--batch", str(cohort), "--out", str(target)])[0] == 0
        code, _, err = _cli(["recommend", "--batch", str(cohort), "--out", str(target)])
        assert code == 2 and "exists; give --force" in err
        assert _cli(["recommend", "--batch", str(cohort), "--out", str(target), "--force"])[0] == 0
    finally:
        os.umask(old)
    assert oct(target.stat().st_mode & 0o777) == oct(0o644), "the user's umask, not mkstemp's 0600"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.jsonl"], "no staging file left"


@pytest.mark.parametrize("form", ["string", "list", "import", "nested"])
def test_a_remote_json_ld_context_is_never_fetched(form: str, tmp_path: Path) -> None:
    from test_serve import _Listener

    listener = _Listener(lambda connection: connection.close())
    remote = f"http://127.0.0.1:{listener.port}/context.jsonld"
    context: Any = {
        "string": remote,
        "list": [remote, {"cmvrr": "https://w3id.org/cmv-rr/"}],
        "import": {"@import": remote},
        "nested": {"cmvrr": "https://w3id.org/cmv-rr/"},
    }[form]
    patient = "https://w3id.org/cmv-rr/patient/LD"
    document: dict[str, Any] = {"@context": context, "@id": patient, "@type": "cmvrr:Patient"}
    if form == "nested":
        document["cmvrr:hasViralLoad"] = {"@context": remote, "@id": f"{patient}/v"}
    path = _write(tmp_path / "patient.jsonld", json.dumps(document).encode())
    code, _, err = _cli(["validate", str(path)])
    assert code == 2 and "a remote JSON-LD context" in err and "is never fetched" in err, err
    assert listener.connections == 0, "nothing may be fetched"


def test_the_python_api_takes_a_record_a_list_a_graph_or_a_path(tmp_path: Path) -> None:
    """recommend() on a record already in memory gives what it gives on the same record's file."""
    from kg_builder import recommend
    from kg_builder.api import load_patient

    path = EXAMPLES_DIR / "cases" / "r1-gcv.json"
    from_file = recommend(path)
    assert recommend(GOOD) == from_file
    assert recommend([GOOD]) == from_file
    assert recommend(load_patient(path)) == from_file
    with pytest.raises(Exception, match="<record>") as refused:
        recommend({**GOOD, "age_years": float("nan")})
    assert "not valid JSON" in str(refused.value)


# Bounded work: cost grows with size, not faster (ratios of the same run, never a time limit) ---


def _best_of_five(work: Any, runs: int = 5) -> float:
    """The least of five runs: the run least disturbed by the other tests on the machine."""
    import time

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def test_a_json_list_of_n_records_costs_time_linear_in_n(tmp_path: Path) -> None:
    """A JSON file holding N records is N items of a batch (it was one item, quadratic: 100
    records in one file took 99 s against 0.5 s as JSON lines). Four times the records may cost
    about four times as much, never sixteen."""

    def batch(count: int) -> float:
        path = tmp_path / f"list-{count}.json"
        path.write_text(json.dumps([{**GOOD, "id": f"L{n}"} for n in range(count)]))
        out = tmp_path / f"out-{count}.jsonl"
        return _best_of_five(lambda: run_batch([path], out, jobs=1, force=True), runs=3)

    batch(5)  # caches warm
    small, large = batch(25), batch(100)
    assert large / small < 10, f"x4 records took x{large / small:.1f} (quadratic: x16)"


def test_the_schema_check_of_a_huge_list_is_linear(tmp_path: Path) -> None:
    from kg_builder.patients.record import schema_errors

    def checking(count: int) -> float:
        record = {**GOOD, "disease_sites": [{"n": n} for n in range(count)]}
        return _best_of_five(lambda: schema_errors(record))

    checking(100)  # the validators compiled
    small, large = checking(4000), checking(16000)
    assert large / small < 10, f"x4 objects took x{large / small:.1f} (quadratic: x16)"


def test_an_interrupted_build_writes_nothing(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "release"
    process = subprocess.Popen([sys.executable, "-m", "kg_builder", "build", "--out", str(out)],
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:  # it finished first: then it wrote all of it
        assert {p.name for p in out.iterdir()} >= {"cmv-rr.ttl", "cmv-rr.nt", "cmv-rr.owl", "cmv-rr.jsonld"}
    else:
        assert process.returncode == 130 and "Traceback" not in err, err
        assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith("cmv-rr")], "no staging"
        assert not out.exists() or not list(out.iterdir()), "nothing half-written"
