"""The decision layer: run the packaged queries for one patient and shape their answers.

All derivation is SPARQL (queries/*.rq); this module binds each query's inputs (the patient, and
where a query needs it, an earlier query's answer), and turns rows into frozen dataclasses.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from functools import cache, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple, cast

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from ..errors import CmvrrError
from ..knowledge.herpesdrg import conflicts
from ..patients.mutations import shown_name
from ..patients.readers import PatientInput
from ..terms import date_of_day, day_number, number_text, patient_graph_iri, patient_name
from .engines import ENGINES, Engine, Row, patient_data, query_text, values_block, with_values_block
from .model import (
    Advice,
    DetectedMutation,
    Exclusion,
    GenotypeResult,
    GenotypeTesting,
    GenotypeVerdict,
    Measurement,
    Recommendation,
    RefractoryLabel,
    RefractoryStatus,
    Regimen,
    Statement,
    Susceptibility,
    SusceptibilityStatus,
    ThresholdCheck,
)
from .plan import PatientContext, Plan, build_plan, canonical, from_second_source, local, regimen_of_line


def _date(day: str | None) -> str | None:
    return None if day is None else date_of_day(int(day)).isoformat()


def _day_number(iso_date: str | None) -> int:
    return 0 if iso_date is None else day_number(datetime.date.fromisoformat(iso_date))


def _number(text: str | None) -> float | None:
    return None if text is None else float(Decimal(text))


def prepare(
    inputs: Sequence[Graph | PatientInput], engine_name: str = "oxigraph", whole_evidence: bool = False
) -> tuple[Engine, list[URIRef]]:
    """A store holding the knowledge graph and each patient of ``inputs`` in its named graph,
    with its own data (patient_data); ``whole_evidence``: all of the second source (engines.py)."""
    named: dict[URIRef, bytes] = {}
    patients: list[URIRef] = []
    for item in inputs:
        given = item if isinstance(item, PatientInput) else PatientInput(Path("<graph>"), item)
        for patient, data in patient_data(given).items():
            iri = patient_graph_iri(URIRef(patient))
            if iri in named:
                raise CmvrrError(f"{patient}: the same patient in two inputs; recommend for them one at a time")
            named[iri] = data
            patients.append(URIRef(patient))
    engine: Engine = ENGINES[engine_name](named, whole_evidence)
    return engine, sorted(patients)


def recommend_graph(
    graph: Graph | PatientInput, engine_name: str = "oxigraph", warnings: Callable[[str], tuple[str, ...]] | None = None
) -> list[Recommendation]:
    """Recommendations for every cmvrr:Patient of a (validated) patient graph. ``warnings(patient)``:
    what to report with each, by the patient's name in reports."""
    return recommend_graphs([graph], engine_name, warnings or (lambda _: ()))


def recommend_graphs(
    graphs: Sequence[Graph | PatientInput],
    engine_name: str = "oxigraph",
    warnings: Callable[[str], tuple[str, ...]] = lambda _: (),
) -> list[Recommendation]:
    """Recommendations for every patient of several validated graphs at once, one store and one
    run of each query for all of them: the same answers as one graph at a time, much faster."""
    engine, patients = prepare(graphs, engine_name)
    try:
        return recommend_patients(engine, patients, warnings)
    finally:
        engine.close()


def _knowledge_rows(engine_name: str, query: str) -> list[Row]:
    """A packaged query over the knowledge graph alone (no patient input)."""
    engine: Engine = ENGINES[engine_name]({})
    try:
        return engine.select(query_text(query), {})
    finally:
        engine.close()


@cache
def graded_statements(engine_name: str) -> dict[str, Statement]:
    rows = _knowledge_rows(engine_name, "statement-details")
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[local(row["statement"])].append(row)
    return {
        key: Statement(
            key,
            str(group[0]["grade"]),
            str(group[0]["polarity"]),
            str(group[0]["text"]),
            str(group[0]["section"]),
            tuple(sorted({int(str(r["reference"])) for r in group if r["reference"]})),
            tuple(sorted({local(r["therapy"]) for r in group if r["therapy"]})),
        )
        for key, group in grouped.items()
    }


@cache
def thresholds(engine_name: str) -> dict[str, str]:
    """The guideline's thresholds (FAQ6, Table 3) as reason texts show them: "1000 IU/mL"."""
    rows = _knowledge_rows(engine_name, "thresholds")
    shown = {local(row["threshold"]): f"{number_text(str(row['value']))} {row['unit']}" for row in rows}
    return {key: text.replace(" %", "%") for key, text in shown.items()}


@cache
def standard_regimens(engine_name: str) -> dict[str, Regimen]:
    """The dose regimens Table 4 names, by key (the plan's FAQ9-derived ganciclovir uses the
    standard treatment dose of row 5)."""
    found = {}
    for group in table4_option_lines(engine_name).values():
        for line in group:
            regimen = regimen_of_line(line)
            if regimen is not None:
                found[regimen.id] = regimen
    return found


@cache
def table4_option_lines(engine_name: str) -> dict[str, tuple[Row, ...]]:
    """Every Table 4 row's option lines (options.rq with ?row unbound): knowledge only, so once."""
    rows = _knowledge_rows(engine_name, "options")
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[str(row["row"])].append(row)
    return {key: tuple(group) for key, group in grouped.items()}


def _cite(statement: Statement) -> str:
    return f"{statement.section}, {statement.grade}: {statement.text}"


PatientInputs = Mapping[str, Mapping[str, Node]]  # patient IRI -> the inputs a query needs beyond the patient


class _Queries:
    """The packaged queries, each run once for all ``patients``, bound by a VALUES block; answers
    by patient. Each patient's row (its IRI and graph) is written once, not once per query: 12
    of the 14 bind nothing else."""

    def __init__(self, engine: Engine, patients: Sequence[URIRef]) -> None:
        self.engine, self.keys = engine, [str(patient) for patient in patients]
        self.pairs = [(patient, patient_graph_iri(patient)) for patient in patients]
        self.block = values_block(self.pairs)

    def __call__(self, name: str, inputs: PatientInputs | None = None) -> dict[str, list[Row]]:
        """``inputs``: what the query needs beyond the patient, by patient (earlier answers)."""
        extra = sorted(next(iter(inputs.values()))) if inputs else []
        block = self.block
        if inputs and extra:
            pairs = zip(self.pairs, self.keys, strict=True)
            block = values_block([(*pair, *(inputs[key][column] for column in extra)) for pair, key in pairs])
        by_patient: dict[str, list[Row]] = {key: [] for key in self.keys}
        if self.keys:
            query = with_values_block(query_text(name), ["patient", "patientGraph", *extra], block)
            for row in self.engine.select(query, {}):
                by_patient[str(row["patient"])].append(row)
        return by_patient


DERIVED_INPUTS = ("refractory", "failedToDecline", "triggerDay")  # the names _derived_inputs binds


def _derived_inputs(judged: Sequence[RefractoryStatus], trigger: RefractoryStatus | None) -> dict[str, Node]:
    """What later queries take from the timeline: ?refractory (table4-rows.rq), ?failedToDecline
    and ?triggerDay (genotype-testing.rq)."""
    return {
        "refractory": _bound(any(c.status in ("refractory", "probable-refractory") for c in judged)),
        "failedToDecline": _bound(trigger is not None),
        "triggerDay": _bound(_day_number(trigger.failure_date if trigger else None)),
    }


@lru_cache(maxsize=1 << 12, typed=True)  # typed: True and 1 are different literals
def _bound(value: bool | int) -> Literal:
    """A value bound into a query, made once (an rdflib Literal takes some making)."""
    return Literal(value)


def _only(inputs: Mapping[str, Mapping[str, Node]], *names: str) -> dict[str, dict[str, Node]]:
    return {key: {name: values[name] for name in names} for key, values in inputs.items()}


def derived_inputs(engine: Engine, patients: Sequence[URIRef]) -> dict[str, dict[str, Node]]:
    """Per patient, the inputs recommend feeds from earlier answers into the packaged queries that
    take them, so that `cmvrr query` (and a user) can bind them as recommend does."""
    courses_of = {key: _courses(rows) for key, rows in _Queries(engine, patients)("refractory").items()}
    return {key: _derived_inputs(judged, _trigger_course(judged)) for key, judged in courses_of.items()}


def recommend_patient(engine: Engine, patient: URIRef, warnings: tuple[str, ...] = ()) -> Recommendation:
    """Run the decision queries for one patient in a prepared store."""
    [recommendation] = recommend_patients(engine, [patient], lambda _: warnings)
    return recommendation


def recommend_patients(
    engine: Engine, patients: Sequence[URIRef], warnings: Callable[[str], tuple[str, ...]] = lambda _: ()
) -> list[Recommendation]:
    """Run the decision queries for the patients of a prepared store, in dependency order: each
    query once for all of them, with the earlier answers it needs bound per patient.
    ``warnings(patient)``: what to report with each, by the patient's name in reports."""
    statements = graded_statements(engine.name)
    limits = thresholds(engine.name)
    run = _Queries(engine, patients)
    findings = run("resistance-findings")
    uncertain = {key: _uncertain(rows) for key, rows in run("uncertain-mutations").items()}
    genes = run("drug-genes")
    statuses = run("susceptibility")
    codons = {key: _codon_variants(rows) for key, rows in run("codon-variants").items()}
    courses_of = {key: _courses(rows) for key, rows in run("refractory").items()}
    refractory = {key: _refractory(courses) for key, courses in courses_of.items()}
    triggers = {key: _trigger_course(judged) for key, judged in courses_of.items()}
    derived = {key: _derived_inputs(courses_of[key], triggers[key]) for key in courses_of}
    testing = run("genotype-testing", _only(derived, "failedToDecline", "triggerDay"))
    compartments = run("compartments")
    table4 = run("table4-rows", _only(derived, "refractory"))
    exclusions = run("exclusions")
    current = run("current-courses")
    states = run("infection-state")
    advice_rows = run("advice")
    history = run("genotype-history")
    lines = table4_option_lines(engine.name)
    regimens = standard_regimens(engine.name)
    recommendations = []
    for patient in patients:
        key = str(patient)
        name = patient_name(key)
        [state] = states[key]
        genotypes = _genotype_history(history[key])
        context = _context(state, current[key], courses_of[key], _variant_fractions(genotypes), codons[key])
        context = replace(context, unread=_unread(genes[key]))
        plan = build_plan(table4[key], lines, exclusions[key], findings[key], context, statements, regimens)
        advice, advised_exclusions = _advice(advice_rows[key], engine.name, _plan_conditions(plan, context))
        excluded = _merge_exclusions(plan, advised_exclusions)
        recommendations.append(
            Recommendation(
                patient=name,
                susceptibility=_susceptibility(
                    statuses[key], genes[key], findings[key], uncertain[key], context.variant_fractions, codons[key]
                ),
                uncertain_mutations=uncertain[key],
                refractory=refractory[key],
                courses=courses_of[key],
                genotype_testing=_genotype_testing(testing[key], compartments[key], statements, limits, triggers[key]),
                # rows apply to active R/R infection only (the plan notes any that are held back)
                table4_rows=tuple(int(str(row["rowNumber"])) for row in table4[key]) if plan.state == "active" else (),
                options=plan.options,
                excluded=excluded,
                advice=advice,
                warnings=warnings(name),
                infection_state=plan.state,
                stop=plan.stop,
                plan_notes=plan.notes + _not_judged_yet(plan.state, courses_of[key]),
                genotype_history=genotypes,
                infection_basis=_infection_basis(state),
            )
        )
    return recommendations


def _variant_fractions(history: tuple[GenotypeResult, ...]) -> dict[str, str]:
    """Each mutation's fraction as the latest test that gave one found it, for the plan's reasons."""
    shown = {}
    for result in history:
        for mutation in result.mutations:
            if mutation.variant_fraction is not None:
                minority = ", minority variant" if mutation.minority else ""
                shown[mutation.mutation] = f" ({mutation.variant_fraction:g}%{minority})"
    return shown


def _codon_variants(rows: list[Row]) -> dict[str, list[str]]:
    """Drug -> "UL97 L595Y (at the codon of UL97 L595F)" for each variant neither source knows
    that sits at a codon where a known mutation confers resistance to the drug."""
    known: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        variant = shown_name(local(row["mutation"]))
        known[(local(row["drug"]), variant)].add(str(row["knownLabel"]))
    found: dict[str, list[str]] = defaultdict(list)
    for (drug, variant), labels in sorted(known.items()):
        found[drug].append(f"{variant} (at the codon of {', '.join(sorted(labels))})")
    return dict(found)


def _unread(genes: list[Row]) -> dict[str, list[str]]:
    """Canonical drug -> the genes read only in part, missing a codon of known resistance to it."""
    unread: dict[str, list[str]] = defaultdict(list)
    for row in genes:
        if row.get("unreadCodons") == "true":
            unread[canonical(local(row["drug"]))].append(local(row["gene"]))
    return {drug: sorted(set(names)) for drug, names in unread.items()}


def _context(
    state: Row,
    courses: list[Row],
    judged: tuple[RefractoryStatus, ...],
    fractions: Mapping[str, str],
    codons: Mapping[str, list[str]],
) -> PatientContext:
    # Every drug a course was refractory or probably refractory on, latest course last: the plan
    # never switches back to one (FAQ1). [safe] Earlier episodes count too (docs/architecture.md).
    failing = {
        canonical(course.course_drug): f"{course.status.replace('-', ' ')} on {course.course_drug} "
        f"(course from {course.course_start})"
        for course in judged
        if course.status in ("refractory", "probable-refractory") and course.course_drug
    }
    return PatientContext(
        state=str(state["state"]),
        current=tuple(local(row["therapy"]) for row in courses if row["kind"] == "current"),
        secondary_prophylaxis=tuple(
            local(row["therapy"])
            for row in courses
            if row["kind"] == "current" and local(row["intent"]) == "intent-secondary-prophylaxis"
        ),
        intolerant={
            canonical(local(row["therapy"])): str(row["reason"] or "reason not given")
            for row in courses
            if row["kind"] == "intolerance"
        },
        failing=failing,
        failed_courses=tuple(course for course in judged if course.status in ("refractory", "probable-refractory")),
        cns_disease=state["cnsDisease"] == "true",
        letermovir_breakthrough=state["letermovirProphylaxis"] == "true" and (_number(state["latestLoad"]) or 0) > 0,
        age=_number(state["age"]),
        steroid_mg_per_kg=_number(state["steroid"]),
        variant_fractions=fractions,
        codon_variants={canonical(drug): names for drug, names in codons.items()},
    )


# What to do while the latest course cannot be judged (FAQ1), so that "no R/R plan" never reads
# as reassurance (docs/architecture.md, The virology timeline).
_UNTIL_JUDGED = {
    "too-early": "less than 2 weeks of therapy: continue it at full dose and repeat the viral load at 2 weeks",
    "different-assays": "the loads come from different assays or laboratories: repeat the viral load on the "
    "baseline's assay and laboratory now",
    "different-specimens": "plasma and whole blood are not comparable: repeat the viral load on the baseline's "
    "specimen type",
    "stale-baseline": "no viral load near the start of the course: take one now as the baseline and repeat it "
    "after 2 weeks",
    "no-baseline": "no viral load near the start of the course: take one now as the baseline and repeat it "
    "after 2 weeks",
    "no-follow-up": "no viral load after 2 weeks of the course: measure one on the baseline's specimen type "
    "and assay",
    "dose-below-guideline": "the course is below the guideline's treatment dose (FAQ1 asks for appropriately "
    "dosed therapy): give the treatment dose and judge after 2 weeks of it",
}


def _not_judged_yet(state: str, courses: tuple[RefractoryStatus, ...]) -> tuple[str, ...]:
    if state != "not-rr" or not courses or courses[-1].reason not in _UNTIL_JUDGED:
        return ()
    latest = courses[-1]
    return (
        f"Resistant or refractory infection cannot be judged yet on the {latest.course_drug} course of "
        f"{latest.course_start} (FAQ1): {_UNTIL_JUDGED[str(latest.reason)]}; genotype if the load has not fallen by "
        "more than 1 log10 after 2 weeks (FAQ6, A-III).",
    )


def _infection_basis(state: Row) -> tuple[Measurement, ...]:
    """The blood or plasma loads the infection state rests on: the latest, and the one before it
    (two consecutive undetectable loads: FAQ13)."""
    return tuple(
        Measurement(_date(state[f"{which}Day"]), _number(state[f"{which}Load"]), None)
        for which in ("latest", "previous")
        if state[f"{which}Day"] is not None
    )


def _plan_conditions(plan: Plan, context: PatientContext) -> set[str]:
    """The advice conditions the plan decides (advice.tsv; advice.rq leaves them unbound)."""
    offered = {option.therapy for option in plan.options}
    on = {canonical(therapy) for therapy in context.current}
    holds: set[str] = {plan.state} if plan.state != "active" else {"active-rr"}
    if any(o.regimen is not None and o.regimen.id == "ganciclovir-high-dose" for o in plan.options):
        holds.add("high-dose-ganciclovir")
    if "ganciclovir" in offered or ("ganciclovir" in on and plan.state == "not-rr"):
        holds.add("ganciclovir-in-plan")
    if "cmv-specific-t-cells" in offered:
        holds.add("t-cells-in-plan")
    if offered & {"leflunomide", "artesunate"}:
        holds.add("adjuncts-in-plan")
    return holds


def _merge_exclusions(plan: Plan, advised: tuple[Exclusion, ...]) -> tuple[Exclusion, ...]:
    """The plan's and the advice's exclusions, each therapy once with all its reasons, never one
    the plan offers."""
    offered = {option.therapy for option in plan.options}
    merged: dict[str, Exclusion] = {}
    for exclusion in (*plan.excluded, *advised):
        if exclusion.therapy in offered:
            continue
        if exclusion.therapy in merged:
            known = merged[exclusion.therapy]
            merged[exclusion.therapy] = Exclusion(
                known.therapy, known.regimen, known.row, tuple(dict.fromkeys(known.reasons + exclusion.reasons)),
                tuple(sorted(set(known.sources) | set(exclusion.sources))),
            )  # fmt: skip
        else:
            merged[exclusion.therapy] = exclusion
    return tuple(merged.values())


def _susceptibility(
    statuses: list[Row],
    genes: list[Row],
    findings: list[Row],
    uncertain: tuple[dict[str, str | float | None], ...],
    fractions: Mapping[str, str],
    codons: Mapping[str, list[str]],
) -> dict[str, Susceptibility]:
    by_drug: dict[str, list[Row]] = defaultdict(list)
    reduced: dict[str, list[Row]] = defaultdict(list)
    for row in findings:
        (by_drug if row["effect"] == "R" else reduced)[local(row["drug"])].append(row)
    untested: dict[str, list[str]] = defaultdict(list)
    partly: dict[str, list[str]] = defaultdict(list)
    relevant: dict[str, set[str]] = defaultdict(set)
    for row in genes:
        relevant[local(row["drug"])].add(local(row["gene"]))
        if row["tested"] == "false":
            untested[local(row["drug"])].append(local(row["gene"]))
        elif row.get("unreadCodons") == "true":  # sequence data read the gene in part only
            partly[local(row["drug"])].append(local(row["gene"]))
    result = {}
    for row in statuses:
        drug, status = local(row["drug"]), str(row["status"])
        rows = by_drug.get(drug, [])
        second = all(from_second_source(r) for r in rows) if rows else False
        note = _status_note(status, row, second, codons.get(drug, []), untested.get(drug, []), partly.get(drug, []))
        unclear = sorted(str(u["mutation"]) for u in uncertain if u["gene"] in relevant[drug]) if uncertain else []
        if unclear and status not in ("resistant", "uncertain"):
            note += f"; variants of uncertain significance in its genes: {', '.join(unclear)}"
        if reduced.get(drug) and status != "resistant":
            note += "; reduced susceptibility measured, a caution, not a reason to withhold it: " + ", ".join(
                f"{r['label']} {_number(r['fold']) or 0:g}-fold (HerpesDRG, {r['band']}; not in Table 5)"
                for r in reduced[drug]
            )
        mutations = tuple(sorted({str(r["label"]) for r in rows}))
        if rows:  # most drugs of most patients have no finding: nothing more to say
            disputed = sorted({conflict_text(c) for r in rows if (c := conflicts().get((local(r["mutation"]), drug)))})
            if disputed:
                note += "; the sources disagree: " + "; ".join(disputed)
            found = sorted(set(mutations) & set(fractions))
            if found:
                note += "; as found: " + ", ".join(f"{name}{fractions[name]}" for name in found)
        result[drug] = Susceptibility(
            status=cast(SusceptibilityStatus, status),
            mutations=mutations,
            levels=tuple(sorted({f"{r['label']}: {r['level']}" for r in rows if r["level"]})) if rows else (),
            sources=tuple(sorted({_source_text(r) for r in rows})) if rows else (),
            untested_genes=tuple(sorted(untested.get(drug, []))),
            note=note,
            assertions=tuple(sorted({local(r["assertion"]) for r in rows})) if rows else (),
        )
    return result


def _status_note(
    status: str, row: Row, second: bool, codons: list[str], untested: list[str], partly: list[str]
) -> str:
    """What a drug's status rests on, in words (Table 3, Table 5, FAQ15)."""
    if status == "resistant":
        return "a detected mutation confers resistance " + (
            "(HerpesDRG; not in the guideline's Table 5)" if second else "(Table 5)"
        )
    if status == "no-known-resistance":
        return (
            f"no known resistance mutation in the genes tested; resistant subpopulations below "
            f"{row['detectionLimit']}% may be missed (Table 3); not proof of susceptibility"
        )
    if status == "uncertain":
        return (
            "a variant neither Table 5 nor HerpesDRG knows sits at a codon where resistance to this "
            f"drug is known: {'; '.join(codons)}; confirm it (a reference laboratory, phenotyping) "
            "before relying on the drug"
        )
    if status != "unknown":
        raise KeyError(status)  # susceptibility.rq gives one of the four
    return "; ".join(
        [f"not every gene that carries resistance to this drug was tested: {', '.join(untested)}"] * bool(untested)
        + [f"read only in part, missing codons where resistance to it is known: {', '.join(partly)}"] * bool(partly)
    )


def conflict_text(conflict: Mapping[str, str]) -> str:
    """A Table 5 / HerpesDRG disagreement in words (source-conflicts.rq); Table 5 still decides."""
    count = int(conflict["measurements"])
    measured = f"at most {number_text(conflict['highest'])}-fold in {count} measurement{'s' if count != 1 else ''}"
    said = "resistant" if conflict["conflict"] == "table5-resistant-herpesdrg-below-2-fold" else "susceptible"
    return f"Table 5 lists {conflict['label']} as {said}, HerpesDRG measured it {measured}; the plan follows Table 5"


def _source_text(row: Row) -> str:
    if not from_second_source(row):
        return f"Table 5 ({local(row['assertion'])}, {row['basis']})"
    count = int(str(row["count"] or 0))
    return (
        f"HerpesDRG ({local(row['assertion'])}: {_number(row['fold']) or 0:g}-fold, {row['band']}, "
        f"{count} measurement{'s' if count != 1 else ''}; not in the guideline's Table 5)"
    )


def _uncertain(rows: list[Row]) -> tuple[dict[str, str | float | None], ...]:
    return tuple(
        {
            "mutation": shown_name(local(row["mutation"])),
            "reported": row["reported"],
            "gene": local(row["gene"]),
            "variant_fraction": _number(row["fraction"]),
            "significance": "uncertain: not in Table 5, so neither resistance nor susceptibility can be read from it",
        }
        for row in rows
    )


def _specimen(iri: str | None) -> str | None:
    """cmvrr:specimen-plasma -> plasma; None for a measurement without a stated specimen."""
    return None if iri in (None, "unspecified") else local(iri).removeprefix("specimen-")


def _measurement(row: Row, prefix: str) -> Measurement | None:
    if row[prefix] is None:
        return None
    # The follow-up is of the baseline's specimen type by construction (refractory.rq).
    specimen = _specimen(row["baselineSpecimen"])
    return Measurement(_date(row[f"{prefix}Day"]), _number(row[f"{prefix}Load"]), row[f"{prefix}Assay"], specimen)


def _course_status(row: Row, failure_day: str | None = None) -> RefractoryStatus:
    return RefractoryStatus(
        status=cast(RefractoryLabel, str(row["status"])),
        reason=row["reason"],
        course_drug=local(row["drug"]),
        course_start=_date(row["startDay"]),
        baseline=_measurement(row, "baseline"),
        follow_up=_measurement(row, "followUp"),
        ratio=_number(row["ratio"]),
        failed_to_decline=row["failedToDecline"] == "true",
        dose_checked=row["doseChecked"] == "true",
        dose_mg_per_kg=_number(row["courseMgPerKg"]),
        dose_mg=_number(row["courseMg"]),
        interval_h=_number(row["courseInterval"]),
        failure_date=_date(failure_day) if failure_day else None,
        evidence_nodes=tuple(str(row[key]) for key in ("baseline", "followUp") if row[key]),
    )


def _courses(rows: list[Row]) -> tuple[RefractoryStatus, ...]:
    """Every treatment course judged on its own (FAQ1), in the order they started. refractory.rq
    gives a row per specimen type with a baseline; a course rests on its first: a complete
    baseline/follow-up pair first, then plasma, whole blood, unstated (the query's ?specimenRank)."""
    preferred: dict[str, Row] = {}
    failures: dict[str, list[int]] = defaultdict(list)  # FAQ6: the first failure on any specimen type counts
    for row in sorted(rows, key=_course_row_order):
        preferred.setdefault(str(row["course"]), row)
        if row["firstFailureDay"] is not None:
            failures[str(row["course"])].append(int(str(row["firstFailureDay"])))
    return tuple(
        _course_status(row, str(min(failures[course])) if failures[course] else None)
        for course, row in preferred.items()
    )


def _course_row_order(row: Row) -> tuple[int, str, bool, int]:
    return int(str(row["startDay"])), str(row["course"]), row["pairComplete"] != "true", int(str(row["specimenRank"]))


def _refractory(courses: tuple[RefractoryStatus, ...]) -> RefractoryStatus:
    """The status the record rests on: the most recent course that could be judged (a switch to a
    new drug, too early to judge, must not hide the refractory course before it); without one,
    the latest course with the reason it cannot be judged."""
    if not courses:
        return RefractoryStatus("not-assessable", "no-treatment-course", None, None, None, None, None, False)
    judged = [course for course in courses if course.status != "not-assessable"]
    return judged[-1] if judged else courses[-1]


def _trigger_course(courses: tuple[RefractoryStatus, ...]) -> RefractoryStatus | None:
    """FAQ6's trigger persists: of the courses whose load failed to decline by more than 1 log10
    from day 14 on, the one with the latest first such load (a later fall does not undo it);
    genotype-testing.rq keeps the trigger until a test on or after that day."""
    failed = [course for course in courses if course.failure_date]
    return max(reversed(failed), key=lambda course: str(course.failure_date), default=None)


def _genotype_testing(
    rows: list[Row],
    compartments: list[Row],
    statements: dict[str, Statement],
    limits: dict[str, str],
    trigger_course: RefractoryStatus | None = None,
) -> GenotypeTesting:
    [row] = rows
    minimum, ul56_minimum = limits["genotype-testing-min-viral-load"], limits["ul56-testing-min-viral-load"]
    yes = {key for key, value in row.items() if value == "true"}
    verdict = cast(GenotypeVerdict, str(row["verdict"]))
    threshold = cast(ThresholdCheck, str(row["threshold"]))
    failure_day = _date(str(row["triggerDay"])) if "failedToDecline" in yes else None
    breakthrough_day = _date(row["breakthroughDay"])
    reasons = []
    if failure_day:
        trigger = _cite(statements["faq6-genotype-testing-viral-load-failure"])
        reasons.append(
            f"the viral load had not fallen by more than 1 log10 after 2 weeks of therapy on {failure_day}"
            f"{f' (on {trigger_course.course_drug} from {trigger_course.course_start})' if trigger_course else ''} "
            f"({trigger})"
        )
    if breakthrough_day:
        reasons.append(
            f"viral-load breakthrough on letermovir prophylaxis from {breakthrough_day}: genotype UL56, UL89 and UL51 "
            "(Table 3)"
        )
    load = _number(row["latestPlasmaLoad"])
    threshold_statement = _cite(statements["faq6-genotype-threshold-1000"])
    if threshold == "not-checked":
        reasons.append(
            f"FAQ6's {minimum} is for plasma and the record has no plasma viral load: threshold not checked; "
            f"measure a plasma load for genotyping ({threshold_statement})"
        )
    else:
        side = "at or above" if threshold == "met" else "below"
        reasons.append(
            f"latest plasma viral load {load:g} IU/mL on {_date(row['latestPlasmaDay'])} is {side} {minimum} "
            f"({threshold_statement})"
        )
    if verdict == "repeat-when-1000":
        reasons.append(f"genotype when the plasma load reaches {minimum}; the assay may fail below it (Table 3)")
    if "consultId" in yes:
        reasons.append(_cite(statements["faq6-letermovir-low-level-id-consultation"]))
    if breakthrough_day and verdict in ("indicated", "consult-id"):
        if "ul56Feasible" in yes:
            reasons.append(f"UL56 (letermovir) genotyping is possible from {ul56_minimum} (Table 3)")
        else:
            reasons.append(f"UL56 letermovir resistance needs at least {ul56_minimum} to be identified (Table 3)")
    fluids: dict[str, list[str]] = defaultdict(list)
    for compartment in compartments:
        fluids[local(compartment["site"])].append(str(compartment["fluidLabel"]))
    tested = {local(c["site"]) for c in compartments if c["genotyped"] == "true"}
    untested = {site: names for site, names in sorted(fluids.items()) if site not in tested}
    if untested:
        which = "; ".join(f"{' or '.join(names)} for {site}" for site, names in untested.items())
        cited = "; ".join(
            _cite(statements[key]) for key in ("faq6-compartment-testing", "faq3-local-fluid-resistance-testing")
        )
        reasons.append(f"CNS disease, no genotype from the compartment yet: test the {which} where feasible ({cited})")
    if row["lastGenotypeDay"] is not None:
        reasons.append(f"last genotype test: {_date(row['lastGenotypeDay'])}")
    return GenotypeTesting(
        indicated=verdict == "indicated",
        reasons=tuple(reasons),
        done="done" in yes,
        verdict=verdict,
        threshold=threshold,
        trigger_date=max(filter(None, (failure_day, breakthrough_day)), default=None),
        compartment_advice=bool(untested),
    )


def _genotype_history(rows: list[Row]) -> tuple[GenotypeResult, ...]:
    """Every genotype test, oldest first, each mutation with its fraction; a mutation that a later
    test of its gene did not find again keeps counting (FAQ15), with the dates it was missed."""
    tests: dict[str, list[Row]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (int(str(r["testDay"])), str(r["test"]))):
        tests[str(row["test"])].append(row)
    found = {key: {str(r["mutation"]) for r in group if r["mutation"]} for key, group in tests.items()}
    genes = {
        key: tuple(sorted({local(r["testedGene"]) for r in group if r["testedGene"]})) for key, group in tests.items()
    }
    regions: dict[str, dict[str, list[tuple[int, int]]]] = {key: defaultdict(list) for key in tests}
    for key, group in tests.items():
        for r in group:
            if r["regionGene"]:
                regions[key][local(r["regionGene"])].append((int(str(r["fromCodon"])), int(str(r["toCodon"]))))

    def read(test: str, gene: str, position: int | None) -> bool:
        """Did ``test`` read this codon? A gene tested without covered regions was read whole."""
        spans = regions[test].get(gene)
        return gene in genes[test] and (not spans or position is None or any(a <= position <= b for a, b in spans))

    days = {key: int(str(group[0]["testDay"])) for key, group in tests.items()}
    history = []
    for key, group in tests.items():
        mutations = []
        for row in sorted((r for r in group if r["mutation"]), key=lambda r: str(r["mutation"])):
            gene = local(row["gene"])
            position = int(str(row["position"])) if row.get("position") else None
            missed = tuple(
                str(_date(str(days[later])))
                for later in tests
                if days[later] > days[key] and read(later, gene, position) and str(row["mutation"]) not in found[later]
            )
            where = {str(_date(str(days[later]))): _specimen(tests[later][0]["specimen"]) for later in tests}
            mutations.append(_detected(row, gene, missed, where))
        first = group[0]
        limit = number_text(str(first["detectionLimit"]))
        history.append(
            GenotypeResult(
                date=str(_date(str(first["testDay"]))),
                specimen=_specimen(first["specimen"]),
                genes_tested=genes[key],
                viral_load=_number(first["loadAtTesting"]),
                mutations=tuple(mutations),
                note="" if mutations else f"no mutation found; resistant subpopulations below {limit}% may be missed "
                "(Table 3)",
                coverage={gene: ",".join(f"{a}-{b}" for a, b in sorted(spans)) for gene, spans in regions[key].items()},
            )
        )
    return tuple(history)


def _detected(row: Row, gene: str, missed: tuple[str, ...], specimen_on: Mapping[str, str | None]) -> DetectedMutation:
    name = shown_name(local(row["mutation"]))
    fraction = _number(row["fraction"])
    resistance = row["resistance"] == "true"
    if not resistance:
        notes = ["uncertain significance: not in Table 5"]
    else:
        source = "Table 5" if row["table5"] == "true" else "HerpesDRG; not in the guideline's Table 5"
        notes = [f"confers resistance ({source})"]
    if row["minority"] == "true":
        limit = number_text(str(row["detectionLimit"]))
        notes.append(
            f"a minority variant ({fraction:g}%, below the {limit}% that standard assays reliably detect, Table 3): "
            "counted all the same"
        )
    if missed:
        # A later test of another compartment may simply not carry it (FAQ6: mutations may differ
        # between plasma, vitreous and spinal fluid); either way it keeps counting.
        later = ", ".join(f"{day} ({specimen_on[day] or 'specimen not stated'})" for day in missed)
        notes.append(f"not found again on {later}: still counted (FAQ15: canonical UL97 mutations may persist)")
    return DetectedMutation(
        mutation=name,
        gene=gene,
        reported=row["reported"],
        variant_fraction=fraction,
        significance="resistance" if resistance else "uncertain",
        minority=row["minority"] == "true",
        not_seen_on=missed,
        note="; ".join(notes),
    )


@cache
def _condition(iri: str | None) -> str:
    """An advice condition's name as advice.tsv spells it (cmvrr:applies-cns-disease -> cns-disease)."""
    return local(iri).removeprefix("applies-")


class _AdviceRow(NamedTuple):
    """An advice.rq row without its patient: what decides whether the advice is shown."""

    advice: str | None
    statement: str | None
    condition: str | None
    holds: str | None
    excludes: str | None


def _holds(row: _AdviceRow, plan_conditions: frozenset[str]) -> bool:
    """An advice condition holds: the record says so (advice.rq ?holds), or the plan does."""
    return row.holds == "true" or (row.holds is None and _condition(row.condition) in plan_conditions)


def _advice(
    rows: list[Row], engine_name: str, plan_conditions: set[str]
) -> tuple[tuple[Advice, ...], tuple[Exclusion, ...]]:
    """Advice whose conditions all hold: the record's (advice.rq ?holds) and the plan's."""
    return _advice_shown(engine_name, tuple(map(_ADVICE_COLUMNS, rows)), frozenset(plan_conditions))


_ADVICE_COLUMNS = itemgetter(*_AdviceRow._fields)


@lru_cache(maxsize=1 << 10)  # patients alike in these conditions get the same advice: worked out once
def _advice_shown(
    engine_name: str, found: tuple[tuple[str | None, ...], ...], plan_conditions: frozenset[str]
) -> tuple[tuple[Advice, ...], tuple[Exclusion, ...]]:
    """_advice's answer. A statement in favour of a therapy that another shown advice excludes is
    not shown as advice but weighed on the exclusion (FAQ11: IVIG C-II for pneumonitis, D-III
    for R/R infection)."""
    statements = graded_statements(engine_name)
    by_advice: dict[str | None, list[_AdviceRow]] = defaultdict(list)
    for row in map(_AdviceRow._make, found):
        by_advice[row.advice].append(row)
    shown = [group for group in by_advice.values() if all(_holds(row, plan_conditions) for row in group)]
    excluded_by = {local(group[0].excludes): group[0] for group in shown if group[0].excludes}
    advice, weighed = [], defaultdict(list)
    for group in shown:
        statement = statements[local(group[0].statement)]
        about = set(statement.about)
        conflict = next(
            (x for x in sorted(about & set(excluded_by)) if statement.polarity in ("for", "optional")), None
        )
        if conflict:
            weighed[conflict].append(f"weighed: {_cite(statement)}")
            continue
        condition = " and ".join(sorted(_condition(r.condition) for r in group))
        advice.append(
            Advice(
                statement.id,
                statement.grade,
                statement.polarity,
                statement.text,
                condition,
                statement.references,
                statement.about,
            )
        )
    excluded = []
    for therapy, row in excluded_by.items():
        statement = statements[local(row.statement)]
        excluded.append(Exclusion(therapy, None, None, (_cite(statement), *weighed[therapy]), (statement.id,)))
    return tuple(advice), tuple(excluded)


__all__ = [
    "DERIVED_INPUTS",
    "derived_inputs",
    "graded_statements",
    "local",
    "prepare",
    "recommend_graph",
    "recommend_graphs",
    "recommend_patient",
    "recommend_patients",
    "standard_regimens",
    "table4_option_lines",
    "thresholds",
]
