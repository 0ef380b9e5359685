"""The virology timeline's properties over generated records (issue 11; docs/architecture.md, The
virology timeline), each shown to fail when its rule is broken on purpose.

The records are untidy on purpose, as hospital records are: plasma and whole blood, two assays,
loads long before a course, doses below the guideline's, several courses, letermovir
prophylaxis, genotypes at any time. The oracle reads the record, not the package's SPARQL:

1. a FAQ1 status names its course and the two measurements it rests on; they are of one
   specimen type and one assay, the baseline from 7 days before to 3 days after the start, the
   follow-up from day 14 of the course while it runs, and the status is the one their ratio names;
2. adding a later measurement (after the last one and after the course's baseline window) of a
   specimen type that has no load in that window, so it can form no pair for the course, never
   changes the course's status or the measurements it rests on;
3. the genotype indication never turns off without a genotype test after its trigger: if the
   record up to a day has a trigger (any verdict but "not-indicated"), the whole record has one
   too, and a "done" verdict has a genotype test on or after the earlier trigger.

Per CI run: CMVRR_TIMELINE_EXAMPLES generated records per property (default 600).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_safety_invariants import recommend

from kg_builder.decisions.model import Measurement, Recommendation, RefractoryStatus

EXAMPLES = int(os.environ.get("CMVRR_TIMELINE_EXAMPLES", "600"))
TIMELINE = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
DAY0 = datetime.date(2025, 1, 1)
ASSAYS = ("Roche cobas CMV, hospital lab", "Abbott RealTime CMV, reference lab")
SPECIMENS = ("plasma", "whole-blood")
DOSES = {
    "ganciclovir": ({"dose_mg_per_kg": 5, "interval_h": 12}, {"dose_mg_per_kg": 7.5, "interval_h": 12},
                    {"dose_mg_per_kg": 2.5, "interval_h": 12}, {"dose_mg_per_kg": 5, "interval_h": 24}),
    "valganciclovir": ({"dose_mg": 900, "interval_h": 12},),
    "foscarnet": ({"dose_mg_per_kg": 90, "interval_h": 12},),
    "maribavir": ({"dose_mg": 400, "interval_h": 12}, {"dose_mg": 200, "interval_h": 12}),
    "cidofovir": ({"dose_mg_per_kg": 5, "interval_h": 168},),
}  # fmt: skip
LOADS = (0, 150, 600, 900, 1200, 2500, 9000, 48000, 520000)


def iso(day: int) -> str:
    return (DAY0 + datetime.timedelta(days=day)).isoformat()


def day_of(text: str) -> int:
    return (datetime.date.fromisoformat(text) - DAY0).days


@st.composite
def timelines(draw: st.DrawFn) -> dict[str, Any]:
    """One patient: optional letermovir prophylaxis, one to three treatment courses (some
    back-to-back, some ended), two to nine loads of either specimen type and assay, up to two
    genotypes (one may be from CSF with encephalitis)."""
    antivirals: list[dict[str, Any]] = []
    if draw(st.booleans()):
        end = draw(st.one_of(st.none(), st.integers(20, 60)))
        antivirals.append({"drug": "letermovir", "dose_mg": 480, "interval_h": 24, "start": iso(5),
                           "intent": "prophylaxis", **({"end": iso(end)} if end else {})})  # fmt: skip
    start = draw(st.integers(30, 60))
    for index in range(draw(st.integers(1, 3))):
        drug = draw(st.sampled_from(sorted(DOSES)))
        length = draw(st.integers(5, 35))
        last = index == 2 or draw(st.booleans())
        course = {"drug": drug, **draw(st.sampled_from(DOSES[drug])), "start": iso(start), "intent": "treatment"}
        if not last or draw(st.booleans()):
            course["end"] = iso(start + length)
        antivirals.append(course)
        if "end" not in course:
            break
        start += length + draw(st.integers(0, 10))
    days = draw(st.lists(st.integers(0, start + 40), min_size=2, max_size=9, unique=True))
    main_specimen, main_assay = draw(st.sampled_from(SPECIMENS)), draw(st.sampled_from(ASSAYS))
    loads = [
        {"date": iso(day), "iu_per_ml": draw(st.sampled_from(LOADS)),
         "specimen": main_specimen if draw(st.integers(0, 3)) else draw(st.sampled_from(SPECIMENS)),
         "assay": main_assay if draw(st.integers(0, 4)) else draw(st.sampled_from(ASSAYS))}
        for day in sorted(days)
    ]  # fmt: skip
    sites = ["encephalitis"] if draw(st.integers(0, 5)) == 0 else []
    tests = [
        {"date": iso(day), "specimen": "csf" if sites and draw(st.booleans()) else "plasma",
         "genes_tested": ["UL97", "UL54"], "mutations": draw(st.sampled_from([[], ["UL97:C592G"], ["UL97:A594V"]]))}
        for day in sorted(draw(st.lists(st.integers(20, start + 40), max_size=2, unique=True)))
    ]  # fmt: skip
    return {
        "id": "TIMELINE",
        "age_years": 50,
        "transplant": {"donor": "matched-unrelated", "t_cell_depleted": False, "date": iso(0)},
        "disease_sites": sites,
        "antivirals": antivirals,
        "viral_loads": loads,
        "genotype_tests": tests,
        "host_factors": {"steroid_mg_per_kg_per_day": 0.2},
    }


# 1. A status rests on a named course and one comparable pair ---------------------------------------


def course_of(record: dict[str, Any], status: RefractoryStatus) -> dict[str, Any] | None:
    return next(
        (c for c in record["antivirals"] if c["drug"] == status.course_drug and c["start"] == status.course_start),
        None,
    )


def in_record(record: dict[str, Any], measurement: Measurement) -> bool:
    return any(
        load["date"] == measurement.date and load["iu_per_ml"] == measurement.iu_per_ml
        and load["specimen"] == measurement.specimen and load["assay"] == measurement.assay
        for load in record["viral_loads"]
    )  # fmt: skip


def status_problems(record: dict[str, Any], rec: Recommendation) -> list[str]:
    found = []
    for status in rec.courses:
        if status.status == "not-assessable":
            continue
        course, base, follow = course_of(record, status), status.baseline, status.follow_up
        if course is None or base is None or follow is None:
            found.append(f"{status.status} without its course or measurements")
            continue
        if not (in_record(record, base) and in_record(record, follow)):
            found.append(f"{status.course_drug}: a measurement not in the record")
        if base.specimen != follow.specimen or base.assay != follow.assay:
            found.append(f"{status.course_drug}: specimen types or assays mixed")
        start = day_of(course["start"])
        if not start - 7 <= day_of(base.date) <= start + 3:
            found.append(f"{status.course_drug}: baseline outside the window")
        end = day_of(course["end"]) if "end" in course else None
        if day_of(follow.date) < start + 14 or (end is not None and day_of(follow.date) > end):
            found.append(f"{status.course_drug}: follow-up before day 14 or after the course")
        ratio = follow.iu_per_ml / base.iu_per_ml if base.iu_per_ml else None
        named = None
        if ratio is not None:  # FAQ1: more than 1 log10 up; up to 1 log10 up or the same; falling
            named = "refractory" if ratio > 10 else "probable-refractory" if ratio >= 1 else "neither"
        if named != status.status:
            found.append(f"{status.course_drug}: status {status.status}, but the ratio names {named}")
    return found


@TIMELINE
@given(timelines())
def test_a_status_rests_on_a_named_course_and_one_comparable_pair(record: dict[str, Any]) -> None:
    assert status_problems(record, recommend(record)) == []


# 2. An unrelated later measurement of another specimen type changes nothing ---------------------------


def unrelated_specimen(record: dict[str, Any], course: dict[str, Any]) -> str | None:
    """A specimen type with no load in the course's baseline window: it can form no pair for it."""
    start = day_of(course["start"])
    near = {load["specimen"] for load in record["viral_loads"] if start - 7 <= day_of(load["date"]) <= start + 3}
    return next((specimen for specimen in SPECIMENS if specimen not in near), None)


@TIMELINE
@given(timelines(), st.sampled_from(LOADS[1:]), st.integers(1, 30))
def test_a_later_measurement_of_an_unrelated_specimen_type_changes_no_status(
    record: dict[str, Any], load: int, later: int
) -> None:
    before = recommend(record)
    last = max(day_of(entry["date"]) for entry in record["viral_loads"])
    for status in before.courses:
        course = course_of(record, status)
        assert course is not None
        specimen = unrelated_specimen(record, course)
        if specimen is None:
            continue
        day = max(last, day_of(course["start"]) + 3) + later  # after the course's baseline window, too
        added = {"date": iso(day), "iu_per_ml": load, "specimen": specimen, "assay": ASSAYS[0]}
        after = recommend({**record, "viral_loads": [*record["viral_loads"], added]})
        key = (status.course_drug, status.course_start)
        [again] = [s for s in after.courses if (s.course_drug, s.course_start) == key]
        assert (again.status, again.baseline, again.follow_up) == (status.status, status.baseline, status.follow_up)


# 3. The genotype indication persists until a genotype test after its trigger ---------------------------


def up_to(record: dict[str, Any], day: int) -> dict[str, Any]:
    """The record as it stood on ``day``: later events left out, courses still running then open."""
    antivirals = []
    for course in record["antivirals"]:
        if day_of(course["start"]) > day:
            continue
        ended = "end" in course and day_of(course["end"]) <= day
        antivirals.append(course if ended else {k: v for k, v in course.items() if k != "end"})
    return {
        **record,
        "antivirals": antivirals,
        "viral_loads": [load for load in record["viral_loads"] if day_of(load["date"]) <= day],
        "genotype_tests": [test for test in record["genotype_tests"] if day_of(test["date"]) <= day],
    }


def persistence_problems(record: dict[str, Any], earlier: Recommendation, whole: Recommendation) -> list[str]:
    then, now = earlier.genotype_testing, whole.genotype_testing
    if then.verdict == "not-indicated":
        return []
    if now.verdict == "not-indicated":
        return [f"the indication of {then.trigger_date} turned off without a genotype test"]
    if now.verdict == "done":
        assert then.trigger_date is not None
        if not any(test["date"] >= then.trigger_date for test in record["genotype_tests"]):
            return [f"'done' without a genotype test on or after the trigger of {then.trigger_date}"]
    return []


@TIMELINE
@given(timelines(), st.data())
def test_the_genotype_indication_never_turns_off_without_a_test(record: dict[str, Any], data: st.DataObject) -> None:
    last = max(day_of(load["date"]) for load in record["viral_loads"])
    day = data.draw(st.integers(0, last), label="the day the record is read")
    earlier = recommend(up_to(record, day))
    assert persistence_problems(record, earlier, recommend(record)) == []


# Each property fails when its rule is broken on purpose ---------------------------------------------

KNOWN = {
    "id": "BROKEN",
    "age_years": 50,
    "transplant": {"donor": "matched-unrelated", "t_cell_depleted": False, "date": "2025-01-01"},
    "disease_sites": [],
    "antivirals": [
        {"drug": "ganciclovir", "dose_mg_per_kg": 5, "interval_h": 12, "start": "2025-03-20", "intent": "treatment"}
    ],
    "viral_loads": [
        {"date": "2025-03-18", "iu_per_ml": 2500, "specimen": "plasma", "assay": ASSAYS[0]},
        {"date": "2025-04-05", "iu_per_ml": 48000, "specimen": "plasma", "assay": ASSAYS[0]},
        {"date": "2025-04-06", "iu_per_ml": 90000, "specimen": "whole-blood", "assay": ASSAYS[0]},
    ],
    "genotype_tests": [],
    "host_factors": {"steroid_mg_per_kg_per_day": 0.2},
}


@pytest.fixture(scope="module")
def known() -> Recommendation:
    rec = recommend(KNOWN)
    assert [c.status for c in rec.courses] == ["refractory"] and status_problems(KNOWN, rec) == []
    assert rec.genotype_testing.verdict == "indicated"
    return rec


def broken_course(rec: Recommendation, **change: Any) -> Recommendation:
    return replace(rec, courses=tuple(replace(course, **change) for course in rec.courses))


@pytest.mark.parametrize(
    ("broken", "change"),
    [
        ("mixed", lambda r: broken_course(r, follow_up=Measurement("2025-04-06", 90000.0, ASSAYS[0], "whole-blood"))),
        ("baseline outside the window", lambda r: broken_course(
            r, baseline=replace(r.courses[0].baseline, date="2025-03-01"))),
        ("before day 14", lambda r: broken_course(r, follow_up=replace(r.courses[0].follow_up, date="2025-03-30"))),
        ("but the ratio names", lambda r: broken_course(r, status="probable-refractory")),
        ("without its course", lambda r: broken_course(r, course_start="2025-03-21")),
    ],
)  # fmt: skip
def test_each_status_check_catches_its_rule_broken_on_purpose(known: Recommendation, broken: str, change: Any) -> None:
    assert any(broken in problem for problem in status_problems(KNOWN, change(known)))


def test_the_persistence_check_catches_an_indication_that_turns_off(known: Recommendation) -> None:
    turned_off = replace(known, genotype_testing=replace(known.genotype_testing, verdict="not-indicated"))
    assert persistence_problems(KNOWN, known, turned_off)
    done_without_test = replace(known, genotype_testing=replace(known.genotype_testing, verdict="done"))
    assert persistence_problems(KNOWN, known, done_without_test)
    assert persistence_problems(KNOWN, known, known) == []


def test_a_later_fall_does_not_undo_the_trigger() -> None:
    """FAQ6 (A-III): the load had not fallen by more than 1 log10 on day 16; a fall by day 30
    does not undo the indication (the record read on day 16 and on day 40 agree)."""
    record = {**KNOWN, "viral_loads": [*KNOWN["viral_loads"][:2],
                                       {"date": "2025-04-19", "iu_per_ml": 150, "specimen": "plasma",
                                        "assay": ASSAYS[0]}]}  # fmt: skip
    whole = recommend(record)
    assert whole.courses[0].status == "neither" and whole.courses[0].failure_date == "2025-04-05"
    assert whole.genotype_testing.verdict == "repeat-when-1000"  # triggered; 150 IU/mL is too low to sequence
    assert persistence_problems(record, recommend(up_to(record, day_of("2025-04-05"))), whole) == []
