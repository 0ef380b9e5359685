"""The treatment plan's invariants over thousands of generated patients (docs/architecture.md,
The treatment plan; Safety rules 1 and 5), and proof that each invariant catches its rule broken
on purpose. The oracle reads Table 5 and the record directly, never the package's SPARQL.

Per CI run: CMVRR_PLAN_EXAMPLES generated patients (default 3,000).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest
import second_source
from hypothesis import HealthCheck, given, settings
from strategies import detected_mutations, records
from test_safety_invariants import recommend

from kg_builder.decisions.model import Exclusion, Option, Recommendation, Stop
from kg_builder.knowledge.tables import RESISTANCE_DRUGS, load_tables

TABLE5 = {row["mutation"]: row for row in load_tables()["mutations"]}
COLUMN = {drug: drug for drug in RESISTANCE_DRUGS} | {"valganciclovir": "ganciclovir"}
CNS = {"retinitis", "encephalitis", "ventriculitis"}
CANONICAL = {"valganciclovir": "ganciclovir"}
EXAMPLES = int(os.environ.get("CMVRR_PLAN_EXAMPLES", "3000"))


def detected(record: dict[str, Any]) -> set[str]:
    return detected_mutations(record)


def culprits(record: dict[str, Any], therapy: str) -> list[dict[str, str]]:
    """Table 5 rows of the detected mutations that defeat ``therapy``, and for mutations Table 5
    does not list (or filociclovir), HerpesDRG's calls as second_source.py computes them."""
    column = COLUMN.get(therapy)
    found = [TABLE5[key] for key in detected(record) if key in TABLE5 and column and TABLE5[key][column] == "R"]
    return found + [second_source.pseudo_row(key, therapy) for key in detected(record)
                    if (key not in TABLE5 or not column) and second_source.defeats(key, therapy)]  # fmt: skip


def current(record: dict[str, Any]) -> set[str]:
    return {CANONICAL.get(c["drug"], c["drug"]) for c in record.get("antivirals", []) if "end" not in c}


def violations(record: dict[str, Any], rec: Recommendation) -> list[str]:
    """Every broken plan rule, in words (empty: the plan holds)."""
    found = []
    therapies = [option.therapy for option in rec.options]
    offered = set(therapies)
    if len(therapies) != len(offered):
        found.append(f"a therapy offered twice: {therapies}")
    if offered & {exclusion.therapy for exclusion in rec.excluded}:
        found.append(f"offered and excluded: {offered & {e.therapy for e in rec.excluded}}")
    if len({e.therapy for e in rec.excluded}) != len(rec.excluded):
        found.append("a therapy excluded twice")
    by_therapy = {option.therapy: option for option in rec.options}
    high_dose = by_therapy.get("ganciclovir")
    high_dose_ok = (
        high_dose is not None and high_dose.regimen is not None and high_dose.regimen.id == "ganciclovir-high-dose"
    )
    row6 = [o for o in rec.options if "table4-row-6-option-1" in o.sources or "table4-row-6-option-2" in o.sources]
    row6_parts = {
        o.therapy
        for o in row6
        if o.role == "do" and ({"table4-row-6-option-1", "table4-row-6-option-2"} & set(o.sources))
    }
    if row6_parts and row6_parts != {"foscarnet", "ganciclovir"}:
        found.append(f"row 6's combination without its partner: {row6_parts}")
    if "filgrastim" in offered and not high_dose_ok:
        found.append("G-CSF without high-dose ganciclovir")
    on = current(record)
    for option in rec.options:
        drug = CANONICAL.get(option.therapy, option.therapy)
        if option.action == "continue" and drug not in on:
            found.append(f"continue {option.therapy}, which the patient is not on")
        if option.action == "start" and drug in on:
            found.append(f"start {option.therapy}, which the patient is on")
        if option.therapy == "letermovir":
            found.append("letermovir offered (FAQ9 D-III)")
        if not option.reasons:
            found.append(f"{option.therapy} offered without a reason")
        bad = culprits(record, option.therapy)
        if bad:
            genes_levels = {(row["gene"], row["gcv_level"]) for row in bad}
            if option.therapy == "ganciclovir" and option.row == 2:
                allowed = genes_levels <= {("UL97", "low")}
            elif option.therapy == "ganciclovir" and option.row == 6:
                allowed = all(gene == "UL54" or (gene, level) == ("UL97", "low") for gene, level in genes_levels)
            elif option.therapy == "foscarnet" and option.row == 6:
                allowed = all(gene == "UL54" for gene, _ in genes_levels)
            else:
                allowed = False
            if not allowed or not any(reason.startswith("prescribed despite") for reason in option.reasons):
                found.append(f"{option.therapy} offered against {sorted(r['mutation'] for r in bad)} (Safety rule 1)")
        if option.therapy == "maribavir" and (
            set(record.get("disease_sites", [])) & CNS or culprits(record, "maribavir")
        ):
            found.append("maribavir with CNS disease or maribavir resistance (FAQ24)")
    found += _failed_regimens_raised_to(record, rec)
    # A variant at a resistance codon of the drug: keeping or raising it is not ranked first while
    # another antiviral the variants do not touch is offered (FAQ9 A-II); with none other, it may be.
    uncertain = {drug for drug, result in rec.susceptibility.items() if result.status == "uncertain"}
    approved = {"ganciclovir", "valganciclovir", "foscarnet", "cidofovir"}
    for option in rec.options[:1]:
        others = {
            o.therapy
            for o in rec.options
            if o.therapy in approved and o.therapy != option.therapy and o.therapy not in uncertain
        }
        if option.action in ("optimize", "continue") and option.therapy in uncertain and others:
            found.append(f"leads with {option.action} {option.therapy} beside a variant at its resistance codon")
    for stop in rec.stop:
        if CANONICAL.get(stop.therapy, stop.therapy) not in on:
            found.append(f"stop {stop.therapy}, which the patient is not on")
    excluded = {exclusion.therapy for exclusion in rec.excluded}
    for advice in rec.advice:
        favoured = set(advice.about) if advice.polarity in ("for", "optional") else set()
        # a drug the plan offers despite resistance (rows 2 and 6) may be advised on, no other defeated drug
        if favoured & excluded or any(culprits(record, therapy) for therapy in favoured - offered):
            found.append(f"advice in favour of an excluded or defeated drug: {advice.statement}")
    for exclusion in rec.excluded:
        if not exclusion.reasons:
            found.append(f"{exclusion.therapy} excluded without a reason")
    rr = rec.infection_state == "active"
    if rr and not any(option.role == "do" for option in rec.options):
        found.append("active resistant or refractory infection without a firm option or an ID consultation")
    if not rr and rec.options:
        found.append(f"a treatment plan in state {rec.infection_state}")
    defeated = {drug for drug in ("ganciclovir", "foscarnet") if culprits(record, drug)}
    for note in rec.plan_notes:
        if note.startswith("Secondary prophylaxis") and (
            ("ganciclovir" in defeated and "valganciclovir" in note)
            or ("foscarnet" in defeated and "foscarnet if" in note)
        ):
            found.append(f"secondary prophylaxis names a defeated drug: {note}")
        if note.startswith("Secondary prophylaxis") and "letermovir (" in note:
            found.append("letermovir named for secondary prophylaxis after R/R infection (FAQ14)")
    return found


def _failed_regimens_raised_to(record: dict[str, Any], rec: Recommendation) -> list[str]:
    """Table 4 row 2 (and row 6's add): never raise a drug to a regimen a refractory course of it
    already had at that dose (FAQ1: the course failed; the row's next option follows)."""
    failed = {(c.course_drug, c.course_start) for c in rec.courses if c.status in ("refractory", "probable-refractory")}
    given = [
        course
        for course in record.get("antivirals", [])
        if (course["drug"], course["start"]) in failed and course.get("dose_mg_per_kg") is not None
    ]
    found = []
    for option in rec.options:
        regimen = option.regimen
        if option.action not in ("optimize", "add", "start") or regimen is None or regimen.min_mg_per_kg is None:
            continue
        for course in given:
            same_drug = CANONICAL.get(course["drug"], course["drug"]) == CANONICAL.get(option.therapy, option.therapy)
            often = regimen.interval_h is None or course.get("interval_h", 24) <= regimen.interval_h
            if same_drug and course["dose_mg_per_kg"] >= regimen.min_mg_per_kg and often:
                found.append(f"{option.therapy} raised to {regimen.id}, which already failed from {course['start']}")
    return found


PLAN = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PLAN
@given(records())
def test_plan_invariants_hold_for_generated_patients(record: dict[str, Any]) -> None:
    rec = recommend(record)
    assert violations(record, rec) == []


# Each invariant fails when its rule is broken on purpose ------------------------------------------

ROW6 = {
    "id": "BROKEN",
    "age_years": 50,
    "disease_sites": [],
    "antivirals": [
        {"drug": "foscarnet", "dose_mg_per_kg": 90, "interval_h": 12, "start": "2025-03-20", "intent": "treatment"}
    ],
    "viral_loads": [
        {"date": "2025-03-18", "iu_per_ml": 2500, "specimen": "plasma", "assay": "A"},
        {"date": "2025-04-03", "iu_per_ml": 48000, "specimen": "plasma", "assay": "A"},
    ],
    "genotype_tests": [
        {
            "date": "2025-04-03",
            "specimen": "plasma",
            "genes_tested": ["UL97", "UL54"],
            "mutations": ["UL54:D588N", "UL97:C592G"],
        }
    ],
    "host_factors": {"steroid_mg_per_kg_per_day": 0.2},
}


@pytest.fixture(scope="module")
def good() -> Recommendation:
    rec = recommend(ROW6)
    assert violations(ROW6, rec) == []
    assert {o.therapy for o in rec.options if o.role == "do"} == {"foscarnet", "ganciclovir"}
    return rec


def drop(rec: Recommendation, therapy: str) -> Recommendation:
    return replace(rec, options=tuple(o for o in rec.options if o.therapy != therapy))


BROKEN = {
    "a therapy offered twice": lambda r: replace(r, options=(*r.options, r.options[-1])),
    "offered and excluded": lambda r: replace(r, excluded=(*r.excluded, Exclusion("foscarnet", None, 6, ("x",)))),
    "a therapy excluded twice": lambda r: replace(r, excluded=(*r.excluded, r.excluded[0])),
    "row 6's combination without its partner": lambda r: drop(drop(r, "ganciclovir"), "filgrastim"),
    "G-CSF without high-dose ganciclovir": lambda r: drop(r, "ganciclovir"),
    "continue foscarnet, which the patient is not on": lambda r: r,  # set by the record below
    "start foscarnet, which the patient is on": lambda r: replace(
        r, options=tuple(replace(o, action="start") if o.therapy == "foscarnet" else o for o in r.options)
    ),
    "letermovir offered": lambda r: replace(r, options=(*r.options, replace(r.options[-1], therapy="letermovir"))),
    "cidofovir offered against": lambda r: replace(
        r, options=(*r.options, replace(r.options[-1], therapy="cidofovir", row=3))
    ),
    "maribavir with CNS disease": lambda r: r,  # set by the record below
    "leads with optimize ganciclovir beside a variant at its resistance codon": lambda r: replace(
        r,
        options=tuple(sorted((replace(o, action="optimize") if o.therapy == "ganciclovir" else o for o in r.options),
                             key=lambda o: o.therapy != "ganciclovir")),  # optimize ganciclovir first
        susceptibility=r.susceptibility | {"ganciclovir": replace(r.susceptibility["ganciclovir"], status="uncertain")},
    ),
    "raised to ganciclovir-high-dose, which already failed": lambda r: replace(
        r, courses=(*r.courses, replace(r.courses[0], course_drug="ganciclovir", course_start="2025-02-01"))
    ),
    "stop cidofovir, which the patient is not on": lambda r: replace(r, stop=(Stop("cidofovir", ("x",)),)),
    "excluded without a reason": lambda r: replace(r, excluded=(replace(r.excluded[0], reasons=()),)),
    "without a firm option": lambda r: replace(r, options=tuple(replace(o, role="next") for o in r.options)),
    "a treatment plan in state controlled": lambda r: replace(r, infection_state="controlled"),
    "advice in favour of an excluded or defeated drug": lambda r: replace(
        r, advice=(*r.advice, replace(r.advice[0], polarity="for", about=("letermovir",)))
    ),
    "secondary prophylaxis names a defeated drug": lambda r: replace(
        r, plan_notes=("Secondary prophylaxis (FAQ14): valganciclovir (oral)",)
    ),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_each_invariant_catches_its_rule_broken_on_purpose(good: Recommendation, broken: str) -> None:
    record = dict(ROW6)
    if broken.startswith("continue foscarnet"):
        record = {**ROW6, "antivirals": [{**ROW6["antivirals"][0], "end": "2025-04-03"}]}
        rec = replace(good, stop=())
    elif broken.startswith("raised to"):  # a refractory high-dose ganciclovir course before row 6's plan
        earlier = {"drug": "ganciclovir", "dose_mg_per_kg": 7.5, "interval_h": 12, "start": "2025-02-01",
                   "end": "2025-03-19", "intent": "treatment"}  # fmt: skip
        record = {**ROW6, "antivirals": [earlier, *ROW6["antivirals"]]}
        rec = BROKEN[broken](good)
        assert rec.courses[-1].status == "refractory"
    elif broken.startswith("maribavir"):
        record = {**ROW6, "disease_sites": ["retinitis"]}
        rec = good
    else:
        rec = BROKEN[broken](good)
    assert any(broken in found for found in violations(record, rec)), violations(record, rec)


def test_a_correct_option_is_not_flagged(good: Recommendation) -> None:
    assert all(isinstance(option, Option) for option in good.options)
    assert violations(ROW6, good) == []
