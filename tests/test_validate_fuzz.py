"""Property-based: malformed JSON and RDF never crash cmvrr validate.

Whatever is thrown at it, validate returns 1 (does not conform) or 2 (cannot parse) with a
message on stdout or stderr, and never a traceback.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_builder.commands.cli import main
from kg_builder.commands.synth import synthetic_patients
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.record import _schema_accepts, schema_errors
from kg_builder.patients.record import schema_validator as _schema_validator

BASE = json.loads((EXAMPLES_DIR / "valid" / "ul97-low-level.json").read_text())


def _json_values(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | floats | st.text(max_size=12),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=8,
    )


# Junk for records may be anything Python writes, NaN and Infinity included (a parse error);
# JSON proper (RFC 8259) has no such numbers.
JSON_VALUES = _json_values(st.floats(allow_nan=True))
STRICT_JSON_VALUES = _json_values(st.floats(allow_nan=False, allow_infinity=False))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_validate(name: str, content: str) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(content)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path)])
        return code, out.getvalue(), err.getvalue()


def assert_clean_failure(code: int, out: str, err: str, allowed: tuple[int, ...] = (1, 2)) -> None:
    assert code in allowed
    assert "Traceback" not in out + err
    if code:
        assert (out if code == 1 else err).strip(), "a failure always says why"


@FUZZ
@given(st.text(max_size=200).filter(lambda text: not _is_json(text)))
def test_text_that_is_not_json_exits_2(text: str) -> None:
    code, out, err = run_validate("patient.json", text)
    assert_clean_failure(code, out, err, allowed=(2,))
    assert "patient.json" in err


def _refuse(constant: str) -> None:
    raise ValueError(constant)


def _is_json(text: str) -> bool:
    """JSON as RFC 8259 has it: Python's reader also takes NaN and Infinity, which are not."""
    try:
        json.loads(text, parse_constant=_refuse)
    except ValueError:
        return False
    return True


@FUZZ
@given(STRICT_JSON_VALUES.filter(lambda value: not isinstance(value, dict) or "id" not in value))
def test_json_that_is_no_record_exits_1(value: Any) -> None:
    code, out, err = run_validate("patient.json", json.dumps(value))
    assert_clean_failure(code, out, err, allowed=(1,))


def _paths(record: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(record, dict):
        for key, value in record.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(record, list):
        for index, value in enumerate(record):
            found += _paths(value, (*prefix, index))
    return found


@FUZZ
@given(st.data())
def test_records_with_a_field_replaced_by_junk_never_crash(data: st.DataObject) -> None:
    record = json.loads(json.dumps(BASE))
    path = data.draw(st.sampled_from(_paths(record)))
    junk = data.draw(JSON_VALUES)
    target = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = junk
    code, out, err = run_validate("patient.json", json.dumps(record, allow_nan=True))
    assert_clean_failure(code, out, err, allowed=(0, 1, 2))


@FUZZ
@given(st.text(max_size=200))
def test_any_text_as_turtle_never_crashes(text: str) -> None:
    code, out, err = run_validate("patient.ttl", text)
    assert_clean_failure(code, out, err)


PREDICATES = st.sampled_from(["cmvrr:iuPerMl", "cmvrr:measuredOn", "cmvrr:hasViralLoad", "cmvrr:ofMutation",
                              "cmvrr:aminoAcidPosition", "cmvrr:inGene", "a", "cmvrr:startDate",
                              "cmvrr:geneTested"])  # fmt: skip
OBJECTS = st.sampled_from(['"x"', "-5", "3.2", '"2025-13-45"^^xsd:date', "cmvrr:UL99", "cmvrr:Patient",
                           "cmvrr:ViralLoadMeasurement", "cmvrr:GenotypeTest", "<urn:n1>", "99999"])  # fmt: skip


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["<urn:n1>", "<urn:n2>", "cmvrr:p"]), PREDICATES, OBJECTS), max_size=8))
def test_random_patient_triples_never_crash(triples: list[tuple[str, str, str]]) -> None:
    body = "\n".join(f"{s} {p} {o} ." for s, p, o in triples)
    turtle = (
        f"@prefix cmvrr: <https://w3id.org/cmv-rr/> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n{body}\n"
    )
    code, out, err = run_validate("patient.ttl", turtle)
    assert_clean_failure(code, out, err, allowed=(0, 1, 2))


SYNTHETIC = list(synthetic_patients(30, seed=21))
VALUES_NEAR_THE_SCHEMA = JSON_VALUES | st.sampled_from(
    [1.0, 1.5, -1, 0, True, "", "2025-01-01", "2025-1-1", "UL97:C592G", [], {}, ["UL97", "UL97"], [1, True],
     {"mutation": "UL97:C592G", "variant_fraction": 5}, {"gene": "UL97"}, "plasma", "letermovir"]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_quick_schema_check_never_accepts_what_jsonschema_rejects(data: st.DataObject) -> None:
    """patient.schema_errors trusts fastjsonschema's yes; jsonschema (Draft 2020-12) must agree
    with every yes, on records with one to three fields replaced, added or removed."""
    record = json.loads(json.dumps(data.draw(st.sampled_from([BASE, *SYNTHETIC]))))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(record) or [()]))
        target = record
        for step in path[:-1]:
            target = target[step]
        if not path or not isinstance(target, (dict, list)):
            continue
        action = data.draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "remove":
            del target[path[-1]]
        elif action == "add" and isinstance(target, dict):
            key = data.draw(st.text(max_size=8) | st.sampled_from(["unknown_key", "id", "scid"]))
            target[key] = copy.deepcopy(data.draw(VALUES_NEAR_THE_SCHEMA))  # the samples stay unchanged
        else:
            target[path[-1]] = copy.deepcopy(data.draw(VALUES_NEAR_THE_SCHEMA))
    full = list(_schema_validator().iter_errors(record))
    quick = schema_errors(record)
    assert bool(quick) == bool(full), (record, [e.message for e in full])


def test_the_quick_schema_check_says_yes_to_every_good_record() -> None:
    """A quick check that said no to good records would only cost time (jsonschema then finds
    nothing wrong), so no other test would notice: the compiled check ($defs inlined) must accept
    every example record and 300 generated ones, each of which jsonschema accepts."""
    examples = [json.loads(path.read_text()) for path in sorted(EXAMPLES_DIR.rglob("*.json"))]
    records = [r for r in (*examples, *synthetic_patients(300, seed=5)) if isinstance(r, dict)]
    good = [record for record in records if not list(_schema_validator().iter_errors(record))]
    assert len(good) > 300
    accepts = _schema_accepts()
    for record in good:
        accepts(record)  # raises JsonSchemaException on a no


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_a_parse_error(number: str) -> None:
    """Python's json reads NaN, Infinity and 1e999 (as inf); RFC 8259 has no such numbers, so
    they are refused as unreadable input (exit 2, file named), never a traceback."""
    code, out, err = run_validate("patient.json", f'{{"id": "X", "age_years": {number}}}')
    assert code == 2 and "patient.json" in err and "not valid JSON" in err and "Traceback" not in err + out
