"""One coherent treatment plan per patient, from the answers of the decision queries.

The queries say which Table 4 rows apply, which of their options a reason rules out
(exclusions.rq: resistance, level included; maribavir with CNS disease; row 2's "no CMV disease")
and what the patient is on (current-courses.rq, infection-state.rq). This module merges the rows
into one plan (docs/architecture.md, The treatment plan):

- every therapy once, with every Table 4 option behind it; rows merge in their precedence (the
  UL54 row decides the polymerase-inhibitor choice: row 3 says "± UL97 mutations"), options in
  the row's order, alternatives in the guideline's own order ("foscarnet or cidofovir");
- options given together (row 6: continue foscarnet AND add high-dose ganciclovir) stand or fall
  as one; G-CSF only with high-dose ganciclovir;
- the patient's context words each option: "start" a drug the patient is not on, "continue" one
  they are on, never "switch to" the drug they are failing (FAQ1), and "stop" a current drug a
  mutation defeats or that fails (FAQ9 A-II: switch drug class);
- where no row leaves an option, the plan is derived from FAQ9 (A-II switch drug class, the
  general order of row 8: ganciclovir, foscarnet, then cidofovir; investigational access C-II),
  and where nothing is left it says so: consult an infectious diseases specialist (FAQ9 A-III).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from ..knowledge.herpesdrg import cited, deciding_measurement
from ..patients.mutations import normal_form, shown_name
from ..terms import CMVRR, HERPESDRG_GRAPH
from .engines import Row
from .model import Exclusion, InfectionState, Option, RefractoryStatus, Regimen, Role, Statement, Stop

# Table 5's column "Ganciclovir/valganciclovir": one drug for resistance, failure and "on it".
CANONICAL = {"valganciclovir": "ganciclovir"}
# The antivirals a plan may start (Table 4); investigational agents come by "seek access".
APPROVED = ("ganciclovir", "foscarnet", "cidofovir")
# FAQ9 (A-II) "switch drug class": the order the general rows give (row 8: ganciclovir first,
# then foscarnet; rows 1-3: cidofovir after foscarnet) and the footnote's investigational agents.
DERIVED_ANTIVIRALS = ("ganciclovir", "foscarnet", "cidofovir")
INVESTIGATIONAL = ("maribavir", "filociclovir", "cmv-specific-t-cells")
_KIND_ORDER = {"antiviral": 0, "access": 1, "adjunct": 2}
_ROLE_ORDER: dict[str, int] = {"do": 0, "alternative": 1, "next": 2, "consider": 3, "conditional": 4}
_MODALITY_STRENGTH = {"first-line": 0, "next": 1, "second-line": 1, "consider": 2, "may-consider": 2, "if-toxicity": 3}


def confer(mutations: Iterable[str]) -> str:
    """'UL97 M460V confers resistance' / 'UL54 A809V, UL97 M460V confer resistance'."""
    names = sorted(set(mutations))
    return f"{', '.join(names)} {'confers' if len(names) == 1 else 'confer'} resistance"


SECOND_SOURCE = "not in the guideline's Table 5"  # the tag a second-source mutation carries in reasons


def resisted(mutations: Iterable[str]) -> str:
    """confer() with the source: "(Table 5)" unless every mutation is known from HerpesDRG alone."""
    names = sorted(set(mutations))
    return confer(names) + ("" if all(SECOND_SOURCE in name for name in names) else " (Table 5)")


def canonical(therapy: str) -> str:
    return CANONICAL.get(therapy, therapy)


_CMVRR = str(CMVRR)


@lru_cache(maxsize=1 << 14)  # the same few hundred knowledge IRIs, over and over: a lookup in C
def local(iri: str | None) -> str:
    """A knowledge-graph IRI's local name (cmvrr:UL97_C592G -> UL97_C592G); others unchanged."""
    return "" if iri is None else iri.removeprefix(_CMVRR)


@dataclass(frozen=True)
class PatientContext:
    """What the plan needs to know of the patient beyond resistance and rows."""

    state: str = "active"  # infection-state.rq: active | controlled | prophylaxis-low-level
    current: tuple[str, ...] = ()  # therapies of courses without an end date, as recorded
    secondary_prophylaxis: tuple[str, ...] = ()  # current courses given as secondary prophylaxis
    intolerant: Mapping[str, str] = field(default_factory=dict)  # canonical therapy -> reason
    # canonical drug of each course refractoriness was found on -> "refractory on ganciclovir (course from ...)"
    failing: Mapping[str, str] = field(default_factory=dict)
    failed_courses: tuple[RefractoryStatus, ...] = ()  # the courses behind `failing`, with their doses
    cns_disease: bool = False
    letermovir_breakthrough: bool = False  # a detectable load while on letermovir prophylaxis
    age: float | None = None
    steroid_mg_per_kg: float | None = None
    # mutation name -> how the lab found it, where it gave a fraction: " (12%, minority variant)"
    variant_fractions: Mapping[str, str] = field(default_factory=dict)
    # canonical drug -> variants neither source knows at a codon of known resistance to it
    codon_variants: Mapping[str, list[str]] = field(default_factory=dict)
    # canonical drug -> genes sequence data read only in part, missing a codon of known resistance to it
    unread: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def refractory(self) -> bool:
        return bool(self.failing)

    @cached_property  # asked for every candidate and option of the plan
    def on(self) -> frozenset[str]:
        return frozenset(canonical(therapy) for therapy in self.current)


@dataclass
class _Candidate:
    """One therapy of one Table 4 option, on its way into the plan."""

    line: Row
    option: str
    row: int | None
    therapy: str
    action: str
    modality: str
    regimen: Regimen | None
    condition: str | None
    together: str | None
    statements: tuple[str, ...]
    wording: str
    row_label: str
    falls: list[str] = field(default_factory=list)  # reasons it is not offered (shown)
    demoted: list[str] = field(default_factory=list)  # reasons it does not lead (offered after the others)
    caveats: list[str] = field(default_factory=list)  # said beside the option, its place unchanged
    silent: bool = False  # it does not apply (no contraindication: never listed as excluded)
    sources: list[str] = field(default_factory=list)  # knowledge keys the exclusion rests on


@dataclass(frozen=True)
class Plan:
    options: tuple[Option, ...]
    excluded: tuple[Exclusion, ...]
    stop: tuple[Stop, ...]
    notes: tuple[str, ...]
    state: InfectionState


def _cite(statement: Statement) -> str:
    return f"{statement.section}, {statement.grade}: {statement.text}"


def build_plan(
    rows: Sequence[Row],
    lines: Mapping[str, Sequence[Row]],
    exclusions: Sequence[Row],
    findings: Sequence[Row],
    context: PatientContext,
    statements: Mapping[str, Statement],
    regimen_of: Mapping[str, Regimen],
) -> Plan:
    """The one plan for one patient. ``rows``: table4-rows.rq answers; ``lines``: every row's
    option lines (options.rq); ``exclusions``: exclusions.rq answers; ``findings``:
    resistance-findings.rq answers; ``regimen_of``: the standard regimens by key."""
    defeated: dict[str, list[str]] = defaultdict(list)
    for finding in findings:
        if finding["effect"] != "R":  # reduced susceptibility (HerpesDRG, 2-5-fold) defeats nothing
            continue
        label = str(finding["label"])
        second = ""
        if from_second_source(finding):  # the measurement the call rests on, with its DOI
            measured = deciding_measurement(normal_form(local(finding["mutation"])), local(finding["drug"]))
            second = f" ({cited(measured) if measured else 'HerpesDRG'}; {SECOND_SOURCE})"
        defeated[canonical(local(finding["drug"]))].append(label + context.variant_fractions.get(label, "") + second)
    rr = bool(rows) or bool(defeated) or context.refractory
    caveats = _prophylaxis_caveats(context, defeated, rr, statements)
    why_not = {
        "controlled": "the infection is controlled",
        "prophylaxis-low-level": "this is low-level DNAemia on prophylaxis",
    }
    held = [
        f"Table 4 row {row['rowNumber']} would apply to the detected mutations; not applied: "
        f"{why_not.get(context.state, 'no active infection')}"
        for row in rows
    ]
    if context.state == "controlled":
        return Plan((), (), (), (*_controlled_notes(defeated, statements), *caveats, *held), "controlled")
    if context.state == "prophylaxis-low-level" and not (context.on & set(defeated)):
        return Plan((), (), (), (*_prophylaxis_notes(statements), *caveats, *held), "prophylaxis-low-level")
    if not rr:
        if context.letermovir_breakthrough:
            caveats.insert(
                0,
                "Viral-load breakthrough on letermovir prophylaxis: send UL56, UL89 and UL51 (and UL97, UL54) for "
                "genotyping (Table 3; UL56 needs at least 100 IU/mL) and consult an infectious diseases specialist; "
                "pre-emptive treatment follows local practice, which this guideline does not cover",
            )
        return Plan((), (), (), tuple(caveats), "not-rr")
    candidates = _candidates(rows, lines)
    _apply_exclusions(candidates, exclusions, statements, context.variant_fractions)
    _apply_context(candidates, context)
    _apply_partners(candidates)
    standing = [c for c in candidates if not c.falls and not c.silent]
    notes: list[str] = []
    # No antiviral left by any row (maribavir resistance; resistance to all a row names; the drug
    # the patient fails): FAQ9's general order, and investigational access if no row gave it.
    if not any(_kind(c) == "antiviral" for c in standing):
        has_access = any(_kind(c) == "access" for c in standing)
        derived = [
            c for c in _derived(defeated, context, regimen_of, statements) if not (has_access and _kind(c) == "access")
        ]
        candidates += derived
        standing += [c for c in derived if not c.falls and not c.silent]
        if any(_kind(c) == "antiviral" and not c.falls and not c.silent for c in derived):
            notes.append(
                "No Table 4 row leaves an antiviral for this patient: the antivirals offered follow FAQ9 "
                f"({_cite(statements['faq9-switch-drug-class'])})"
            )
    if _high_dose(standing) and not any(c.therapy == "filgrastim" for c in standing):
        standing.append(_growth_factor(statements))
    _undemote_without_alternative(standing, context)
    standing.sort(key=lambda c: bool(c.demoted))  # stable: a demoted option follows the others
    options = _merge(standing, candidates, context, defeated, statements)
    if not any(option.therapy in APPROVED or option.action == "seek-access" for option in options):
        consult = _consult(statements, 1)
        options = (consult, *(replace(option, rank=option.rank + 1) for option in options))
        notes.append("No antiviral or investigational agent that the guideline supports is left for this patient.")
    offered = {option.therapy for option in options}
    excluded = _excluded([*candidates, *_defeated_candidates(defeated), *_failing_candidates(context)], offered)
    stop = _stops(context, offered, defeated, statements)
    notes += _combination_notes(options, statements)
    notes += _high_level_by_default(findings)
    return Plan(options, excluded, stop, (*notes, *caveats), "active")


def from_second_source(finding: Row) -> bool:
    """A resistance-findings.rq row resting on a HerpesDRG call, not on Table 5."""
    return finding["evidence"] == str(HERPESDRG_GRAPH)


def _high_level_by_default(findings: Sequence[Row]) -> list[str]:
    """A UL97 ganciclovir mutation known only from HerpesDRG is high-level for the row choice."""
    names = sorted(
        {
            str(f["label"])
            for f in findings
            if from_second_source(f) and local(f["drug"]) == "ganciclovir" and local(f["gene"]) == "UL97"
            and f["level"] == "high"
        }
    )
    if not names:
        return []
    return [
        f"{', '.join(names)}: ganciclovir resistance known from HerpesDRG, not the guideline's Table 5; FAQ9 names "
        "only M460I, C592G and L595W as low-level UL97 mutations, so it is treated as high-level (Table 4 row 1): "
        "confirm with the laboratory"
    ]


def _candidates(rows: Sequence[Row], lines: Mapping[str, Sequence[Row]]) -> list[_Candidate]:
    """Every therapy of every applying row's options, in merge order: the row's precedence, the
    option's rank in its row, the therapy's place in its option ("foscarnet or cidofovir")."""
    # options.rq carries each row's merge precedence on its option lines
    ordered = sorted(
        rows, key=lambda row: (int(str(lines[str(row["row"])][0]["precedence"])), int(str(row["rowNumber"])))
    )
    found: list[_Candidate] = []
    for row in ordered:
        number = int(str(row["rowNumber"]))
        grouped: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for line in lines[str(row["row"])]:
            grouped[(str(line["option"]), local(line["therapy"]))].append(line)
        for (option, therapy), group in sorted(
            grouped.items(), key=lambda item: (int(str(item[1][0]["rank"])), int(str(item[1][0]["position"])))
        ):
            first = group[0]
            found.append(
                _Candidate(
                    line=first,
                    option=local(option),
                    row=number,
                    therapy=therapy,
                    action=str(first["action"]),
                    modality=str(first["modality"]),
                    regimen=regimen_of_line(first),
                    condition=local(first["condition"]).removeprefix("condition-") or None,
                    together=local(first["together"]) or None,
                    statements=tuple(sorted({local(line["statement"]) for line in group if line["statement"]})),
                    wording=str(first["wording"]),
                    row_label=str(row["label"]).split(": ", 1)[-1],
                )
            )
    return found


def regimen_of_line(line: Row) -> Regimen | None:
    """The dose regimen an option line of options.rq names, if any."""
    if line["regimen"] is None:
        return None

    def number(key: str) -> float | None:
        return None if line[key] is None else float(str(line[key]))

    return Regimen(
        local(line["regimen"]), number("minMgPerKg"), number("maxMgPerKg"), number("doseMg"), number("intervalH")
    )


def _resistance_source(exclusion: Row) -> str:
    """Table 5's assertion, or the HerpesDRG measurement a call rests on where Table 5 is silent."""
    source = local(exclusion["source"])
    if not source.endswith("-herpesdrg"):
        return f"{source}, Table 5"
    mutation = normal_form(local(exclusion["detail"]))
    measurement = deciding_measurement(mutation, local(exclusion["therapy"]))
    shown = cited(measurement) if measurement else "HerpesDRG"
    return f"{shown}; not in the guideline's Table 5"


def _apply_exclusions(
    candidates: list[_Candidate],
    exclusions: Sequence[Row],
    statements: Mapping[str, Statement],
    fractions: Mapping[str, str],
) -> None:
    by_key: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for exclusion in exclusions:
        by_key[(local(exclusion["option"]), local(exclusion["therapy"]))].append(exclusion)
    for candidate in candidates:
        for exclusion in by_key.get((candidate.option, candidate.therapy), []):
            reason, detail = exclusion["reason"], local(exclusion["detail"])
            candidate.sources += [candidate.option, local(exclusion["source"])]
            if reason == "resistance":
                name = shown_name(detail)
                candidate.falls.append(
                    f"{name}{fractions.get(name, '')} confers resistance ({_resistance_source(exclusion)})"
                )
            elif reason == "maribavir-cns":
                candidate.falls.append(f"CNS disease ({detail}): {_cite(statements['faq24-maribavir-cns'])}")
            elif reason == "cmv-disease-present":
                candidate.falls.append(
                    f"CMV disease present ({detail}): Table 4 row {candidate.row} gives high-dose ganciclovir only if "
                    "CMV disease is not present"
                )


def _apply_context(candidates: list[_Candidate], context: PatientContext) -> None:
    """The patient's failing drug and intolerances (Table 4 rows 1-2: "unacceptable drug toxicity")."""
    for candidate in candidates:
        therapy = canonical(candidate.therapy)
        if candidate.condition == "on-ganciclovir" and "ganciclovir" not in context.on:
            candidate.silent = True  # row 8 optimizes a current (val)ganciclovir course: no contraindication
        if therapy in context.intolerant:
            candidate.falls.append(f"unacceptable toxicity recorded ({context.intolerant[therapy]})")
        # Never switch to (or seek access to) the drug the patient is failing; a row's own
        # "continue", "optimize" or "add" of it is written for exactly that patient (rows 2, 4, 6, 8).
        if therapy in context.failing and candidate.action in ("switch", "seek-access"):
            candidate.falls.append(f"the infection is {context.failing[therapy]}")
        # A variant of uncertain significance at a resistance codon of the drug: keeping or
        # raising it is not the first step (FAQ9 A-II: on suspicion of resistance, switch class).
        # A row's "switch to" a drug the patient is already on keeps it too (row 7 for a patient on ganciclovir).
        keeps = candidate.action in ("continue", "optimize") or (
            therapy in context.on and candidate.action in ("switch", "start")
        )
        if therapy in context.codon_variants and keeps:
            candidate.demoted.append(
                f"not the first step: {'; '.join(context.codon_variants[therapy])} sits at a codon where resistance to "
                f"{therapy} is known; confirm the variant (FAQ9 A-II: on clinical suspicion of resistance, switch "
                "drug class)"
            )
        # ...unless that patient already failed the very regimen the row would raise the dose to:
        # refractory on high-dose ganciclovir, row 2 moves on to foscarnet or cidofovir.
        failed_at = _failed_at_regimen(candidate, therapy, context)
        if failed_at and candidate.action in ("optimize", "add"):
            candidate.falls.append(
                f"{candidate.therapy} at {failed_at} has already failed, and Table 4 row {candidate.row} raises the "
                "dose only that far: the row's next option follows"
            )


def _undemote_without_alternative(standing: list[_Candidate], context: PatientContext) -> None:
    """A drug kept beside a codon variant yields only to an antiviral the variant does not touch:
    when every offered antiviral sits at such a codon (UL54 A809C: ganciclovir and foscarnet),
    switching gains nothing, and the drug the patient is on keeps its row's place."""
    clear = any(
        _kind(c) == "antiviral" and not c.demoted and canonical(c.therapy) not in context.codon_variants
        for c in standing
    )
    if clear:
        return
    for candidate in standing:
        if candidate.demoted:
            therapy = canonical(candidate.therapy)
            candidate.caveats.append(
                f"{'; '.join(context.codon_variants[therapy])} sits at a codon where resistance to {therapy} is known, "
                "as for every antiviral offered here, so switching gains nothing; confirm the variant (a reference "
                "laboratory, phenotyping)"
            )
            candidate.demoted.clear()


def _failed_at_regimen(candidate: _Candidate, therapy: str, context: PatientContext) -> str:
    """The dose of a failed course of the candidate's therapy that reached the candidate's regimen
    (at least its mg/kg or mg, at most its interval), as text; "" when none did."""
    regimen = candidate.regimen
    if regimen is None:
        return ""
    for course in context.failed_courses:
        if canonical(course.course_drug or "") != therapy:
            continue
        reached_per_kg = regimen.min_mg_per_kg is not None and (course.dose_mg_per_kg or 0) >= regimen.min_mg_per_kg
        reached_mg = regimen.dose_mg is not None and (course.dose_mg or 0) >= regimen.dose_mg
        often_enough = regimen.interval_h is None or (
            course.interval_h is not None and course.interval_h <= regimen.interval_h
        )
        if (reached_per_kg or reached_mg) and often_enough:
            return course.dose_text
    return ""


def _apply_partners(candidates: list[_Candidate]) -> None:
    """Options given together stand or fall as one; G-CSF only with high-dose ganciclovir."""
    by_option: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_option[candidate.option].append(candidate)
    changed = True
    while changed:
        changed = False
        for candidate in candidates:
            partners = by_option.get(candidate.together or "", [])
            fallen = [p for p in partners if p.falls or p.silent]
            if fallen and not candidate.falls and not candidate.silent:
                partner = fallen[0]
                why = "; ".join(partner.falls) or "it does not apply"
                candidate.falls.append(
                    f"given only together with {partner.therapy} (Table 4 row {partner.row}: {candidate.wording}), "
                    f"which is not offered: {why}"
                )
                candidate.sources.append(partner.option)
                changed = True
    for candidate in candidates:
        if candidate.condition == "with-high-dose-ganciclovir" and not _high_dose(candidates):
            candidate.silent = True  # G-CSF goes with high-dose ganciclovir only (FAQ9 B-I)


def _high_dose(candidates: Sequence[_Candidate]) -> bool:
    return any(
        c.therapy == "ganciclovir" and c.regimen is not None and c.regimen.id == "ganciclovir-high-dose"
        for c in candidates
        if not c.falls and not c.silent
    )


def _growth_factor(statements: Mapping[str, Statement]) -> _Candidate:
    """FAQ9 (B-I): pre-emptive filgrastim with high-dose ganciclovir, where no row names it (row 2)."""
    key = "faq9-filgrastim-high-dose-ganciclovir"
    return _Candidate(
        line={},
        option=f"derived:{key}",
        row=None,
        therapy="filgrastim",
        action="add",
        modality="consider",
        regimen=None,
        condition="with-high-dose-ganciclovir",
        together=None,
        statements=(key,),
        wording=_cite(statements[key]),
        row_label="",
    )


def _fallen(source: str, therapy: str, reason: str) -> _Candidate:
    """A drug no row offers that the plan must still list under "not to offer", with why."""
    return _Candidate(
        line={},
        option=source,
        row=None,
        therapy=therapy,
        action="switch",
        modality="next",
        regimen=None,
        condition=None,
        together=None,
        statements=(),
        wording="",
        row_label="",
        falls=[reason],
    )


def _defeated_candidates(defeated: Mapping[str, list[str]]) -> list[_Candidate]:
    """Every drug a detected mutation defeats, as a candidate that falls: listed under "not to
    offer" with its mutations, unless a row prescribes it despite them (then the plan offers it)."""
    return [
        _fallen("table5", therapy, resisted(mutations))
        for therapy, mutations in sorted(defeated.items())
        if therapy in (*APPROVED, "maribavir", "letermovir")
    ]


def _failing_candidates(context: PatientContext) -> list[_Candidate]:
    """Every drug a course was refractory on: never switched back to (FAQ1), listed once."""
    return [_fallen("faq1", therapy, f"the infection is {note}") for therapy, note in sorted(context.failing.items())]


def _kind(candidate: _Candidate) -> str:
    if candidate.action == "seek-access":
        return "access"
    if candidate.therapy in APPROVED:
        return "antiviral"
    return "adjunct"


def _derived(
    defeated: Mapping[str, list[str]],
    context: PatientContext,
    regimen_of: Mapping[str, Regimen],
    statements: Mapping[str, Statement],
) -> list[_Candidate]:
    """FAQ9's general order where no Table 4 row leaves an option: each antiviral without known
    resistance that the patient is not failing and tolerates, then investigational access."""
    found = []
    for therapy in (*DERIVED_ANTIVIRALS, *INVESTIGATIONAL):
        access = therapy in INVESTIGATIONAL
        key = "faq9-investigational-access" if access else "faq9-switch-drug-class"
        candidate = _Candidate(
            line={},
            option=f"derived:{key}",
            row=None,
            therapy=therapy,
            action="seek-access" if access else "switch",
            modality="next" if access else "first-line",
            regimen=regimen_of.get("ganciclovir-standard-dose") if therapy == "ganciclovir" else None,
            condition=None,
            together=None,
            statements=(key,),
            wording=_cite(statements[key]),
            row_label="",
        )
        if defeated.get(therapy):
            candidate.falls.append(resisted(defeated[therapy]))
        if therapy == "maribavir" and context.cns_disease:
            candidate.falls.append(f"CNS disease: {_cite(statements['faq24-maribavir-cns'])}")
        found.append(candidate)
    _apply_context(found, context)
    return found


def _merge(
    standing: Sequence[_Candidate],
    candidates: Sequence[_Candidate],
    context: PatientContext,
    defeated: Mapping[str, list[str]],
    statements: Mapping[str, Statement],
) -> tuple[Option, ...]:
    """One option per therapy: the first standing candidate decides, later ones add their sources."""
    first: dict[str, _Candidate] = {}
    sources: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in standing:
        first.setdefault(candidate.therapy, candidate)
        sources[candidate.therapy].append(candidate)
    toxicity = any(therapy in APPROVED for therapy in context.intolerant)
    chosen = list(first.values())
    antivirals = [c for c in chosen if _kind(c) == "antiviral"]
    lead = antivirals[0] if antivirals else None
    lead_options = {c.option for c in sources[lead.therapy]} if lead else set()
    roles: dict[str, Role] = {}
    for candidate in chosen:
        kind, group = _kind(candidate), sources[candidate.therapy]
        firm = any(c.modality != "if-toxicity" for c in group) or toxicity
        if kind == "antiviral" and lead is not None:
            # the first antiviral, with what its option is given together with (row 6)
            if candidate is lead or (lead.together is not None and candidate.option == lead.together):
                roles[candidate.therapy] = "do"
            # the guideline's "or": another therapy of the same option, or another row's first line
            elif candidate.row is not None and (
                any(c.option in lead_options or c.modality == "first-line" for c in group)
            ):
                roles[candidate.therapy] = "alternative"
            else:
                roles[candidate.therapy] = "next"
        elif kind == "access":
            # with no antiviral left, investigational access leads whatever its condition (FAQ9 C-II)
            roles[candidate.therapy] = "do" if lead is None else ("next" if firm else "conditional")
        elif candidate.condition == "with-high-dose-ganciclovir":
            roles[candidate.therapy] = "consider"
        else:
            # FAQ12 (C-III): leflunomide or artesunate where trial or early access is not possible
            roles[candidate.therapy] = (
                "conditional" if lead is not None or any(_kind(c) == "access" for c in chosen) else "consider"
            )
    order = sorted(
        range(len(chosen)),
        key=lambda index: (_ROLE_ORDER[roles[chosen[index].therapy]], _KIND_ORDER[_kind(chosen[index])], index),
    )
    placed = [chosen[index] for index in order]
    # G-CSF right after the high-dose ganciclovir it supports
    growth = [c for c in placed if c.condition == "with-high-dose-ganciclovir"]
    placed = [c for c in placed if c not in growth]
    for support in growth:
        at = next((i for i, c in enumerate(placed) if c.therapy == "ganciclovir"), len(placed) - 1)
        placed.insert(at + 1, support)
    return tuple(
        _option(
            rank, candidate, sources[candidate.therapy], roles[candidate.therapy], context, defeated, statements, placed
        )
        for rank, candidate in enumerate(placed, start=1)
    )


def _action(candidate: _Candidate, context: PatientContext, chosen: Iterable[_Candidate]) -> str:
    """The option's verb for this patient: start what they are not on, continue what they are."""
    on = canonical(candidate.therapy) in context.on
    if candidate.action in ("seek-access",) or _kind(candidate) == "adjunct":
        return "add" if candidate.action == "add" else candidate.action
    if candidate.action == "optimize":
        return "optimize" if on else "start"
    if candidate.action == "add":  # row 6: add high-dose ganciclovir to the foscarnet the patient is on
        partner_on = any(c.option == candidate.together and canonical(c.therapy) in context.on for c in chosen)
        return ("optimize" if on else "add") if partner_on else ("optimize" if on else "start")
    return "continue" if on else "start"


def _option(
    rank: int,
    candidate: _Candidate,
    group: Sequence[_Candidate],
    role: Role,
    context: PatientContext,
    defeated: Mapping[str, list[str]],
    statements: Mapping[str, Statement],
    plan: Sequence[_Candidate],
) -> Option:
    cited = sorted({key for c in group for key in c.statements})
    why = []
    for c in group:
        if c.row is not None:
            why.append(f"Table 4 row {c.row} ({c.row_label}), option {c.line['rank']}: {c.wording}")
    if candidate.row is None:
        why.append("derived from the statement below, not from a Table 4 row")
    despite = sorted(set(defeated.get(candidate.therapy, [])))
    if despite:
        why.append(
            f"prescribed despite {', '.join(despite)}: Table 4 row {candidate.row} gives {candidate.therapy} for "
            "exactly this resistance"
        )
    why += [reason for c in group for reason in (*c.demoted, *c.caveats)]
    if candidate.therapy == "cmv-specific-t-cells":
        why.append(_t_cell_caveat(context))
    failing = context.failing.get(canonical(candidate.therapy))
    if failing and candidate.action in ("continue", "optimize", "add"):
        why.append(
            f"caution: the infection is {failing}; Table 4 row {candidate.row} keeps it for this resistance "
            "pattern, so check the dose and consult an infectious diseases specialist (FAQ9 A-III); resistant "
            "subpopulations below 25% may be missed by genotyping (Table 3)"
        )
    unread = context.unread.get(canonical(candidate.therapy))
    if unread and _kind(candidate) == "antiviral":
        why.append(
            f"caution: {', '.join(unread)} read only in part: codons where resistance to {candidate.therapy} is "
            "known were not read; complete the genotype of the whole gene (a reference laboratory) before relying "
            "on it"
        )
    why += [_cite(statements[key]) for key in cited]
    condition = candidate.condition
    if role == "conditional" and condition is None and _kind(candidate) == "adjunct":
        condition = "trial-or-access-not-possible"
    if condition == "unacceptable-toxicity" and role != "conditional":
        condition = None  # the record names the toxicity: the branch is firm
        intolerant = ", ".join(f"{drug} ({why})" for drug, why in sorted(context.intolerant.items()))
        if intolerant:
            why.insert(0, f"unacceptable drug toxicity recorded: {intolerant}")
    return Option(
        rank=rank,
        row=candidate.row,
        row_rank=int(str(candidate.line["rank"])) if candidate.row is not None else 0,
        action=_action(candidate, context, plan),
        modality=min((c.modality for c in group), key=lambda m: _MODALITY_STRENGTH.get(m, 9)),
        therapy=candidate.therapy,
        regimen=candidate.regimen,
        condition=condition,
        grade=tuple(statements[key].grade for key in cited),
        statements=tuple(cited),
        references=tuple(sorted({ref for key in cited for ref in statements[key].references})),
        reasons=tuple(why),
        wording=candidate.wording,
        option=candidate.option,
        role=role,
        sources=tuple(dict.fromkeys(c.option for c in group)),
    )


def _t_cell_caveat(context: PatientContext) -> str:
    # FAQ19: patients on more than 0.5 mg/kg/day prednisolone were excluded from the T-cell studies.
    if context.steroid_mg_per_kg is None:
        return "steroid dose not recorded: T-cell studies excluded patients on > 0.5 mg/kg/day prednisolone (FAQ19)"
    if context.steroid_mg_per_kg > 0.5:
        return (
            f"on {context.steroid_mg_per_kg:g} mg/kg/day of steroids: patients on > 0.5 mg/kg/day prednisolone were "
            "excluded from the T-cell studies, so efficacy is unknown (FAQ19)"
        )
    return f"steroids {context.steroid_mg_per_kg:g} mg/kg/day, within the T-cell studies' limit of 0.5 (FAQ19)"


def _consult(statements: Mapping[str, Statement], rank: int) -> Option:
    statement = statements["faq9-id-consultation"]
    return Option(
        rank=rank,
        row=None,
        row_rank=0,
        action="consult",
        modality="first-line",
        therapy="infectious-diseases-consultation",
        regimen=None,
        condition=None,
        grade=(statement.grade,),
        statements=(statement.id,),
        references=statement.references,
        reasons=(
            "no antiviral or investigational agent the guideline supports is left for this patient",
            _cite(statement),
        ),
        wording="No option the guideline supports: consult an infectious diseases specialist",
        option="derived:faq9-id-consultation",
        role="do",
        sources=("derived:faq9-id-consultation",),
    )


def _excluded(candidates: Sequence[_Candidate], offered: set[str]) -> tuple[Exclusion, ...]:
    """Each therapy the plan does not offer, once, with all its reasons (never one it offers)."""
    reasons: dict[str, list[str]] = defaultdict(list)
    sources: dict[str, set[str]] = defaultdict(set)
    regimen: dict[str, str | None] = {}
    row: dict[str, int | None] = {}
    for candidate in candidates:
        if not candidate.falls or candidate.therapy in offered:
            continue
        known = reasons[candidate.therapy]
        named = candidate.option == "table5" and any("resistance (" in reason for reason in known)
        known += [
            reason for reason in candidate.falls if reason not in known and not (named and "resistance (" in reason)
        ]
        sources[candidate.therapy] |= {s for s in candidate.sources if s}
        regimen.setdefault(candidate.therapy, candidate.regimen.id if candidate.regimen else None)
        row.setdefault(candidate.therapy, candidate.row)
    return tuple(
        Exclusion(therapy, regimen[therapy], row[therapy], tuple(dict.fromkeys(reasons[therapy])),
                  tuple(sorted(sources[therapy])))
        for therapy in reasons
    )  # fmt: skip


def _stops(
    context: PatientContext, offered: set[str], defeated: Mapping[str, list[str]], statements: Mapping[str, Statement]
) -> tuple[Stop, ...]:
    """Each current drug the plan does not go on with, with every reason that holds."""
    switch = _cite(statements["faq9-switch-drug-class"])
    stops = []
    for therapy in dict.fromkeys(context.current):
        drug = canonical(therapy)
        if drug in offered:
            continue
        reasons = []
        if defeated.get(drug):
            reasons.append(resisted(defeated[drug]))
        if drug in context.failing:
            reasons.append(f"the infection is {context.failing[drug]}")
        if drug in context.intolerant:
            reasons.append(f"unacceptable toxicity recorded ({context.intolerant[drug]})")
        if drug == "letermovir":
            reasons.append(_cite(statements["faq9-letermovir-monotherapy"]))
        if not reasons:
            if drug not in APPROVED and drug not in ("maribavir",):
                continue
            reasons.append("replaced by the plan's first option")
        if drug in APPROVED and not offered & set(APPROVED):
            # [safe] no antiviral the guideline supports replaces it: the guideline gives no bridge
            reasons.append(
                "no antiviral the guideline supports replaces it: stop it when the next therapy (investigational "
                f"access, or the infectious diseases specialist's choice) starts, not before "
                f"({_cite(statements['faq9-id-consultation'])})"
            )
        stops.append(Stop(therapy, (*reasons, switch), ("faq9-switch-drug-class",)))
    return tuple(stops)


def _combination_notes(options: Sequence[Option], statements: Mapping[str, Statement]) -> list[str]:
    together = [o for o in options if o.row == 6 and o.role == "do" and o.therapy in ("foscarnet", "ganciclovir")]
    if len(together) == 2:
        return [
            "Table 4 row 6 prescribes foscarnet with high-dose ganciclovir for UL54 resistance to all three "
            f"polymerase inhibitors: the exception to FAQ10 ({_cite(statements['faq10-combination-therapy'])})"
        ]
    return []


def _controlled_notes(defeated: Mapping[str, list[str]], statements: Mapping[str, Statement]) -> tuple[str, ...]:
    """FAQ13 stop criterion met; FAQ14 secondary prophylaxis with agents without known resistance."""
    agents = []
    if not defeated.get("ganciclovir"):
        agents += ["valganciclovir (oral)", "intravenous ganciclovir if an oral agent is unfeasible"]
    if not defeated.get("foscarnet"):
        agents.append("foscarnet if an oral agent is unfeasible")
    notes = [
        "Two consecutive undetectable viral loads on treatment: the virological stop criterion of FAQ13 "
        f"({_cite(statements['faq13-treatment-duration'])})",
        "Secondary prophylaxis (FAQ14): "
        + (
            ", ".join(agents)
            if agents
            else "no agent without known resistance: consult an infectious diseases specialist"
        )
        + "; letermovir cannot yet be recommended for secondary prophylaxis after R/R infection (FAQ14)",
    ]
    if defeated:
        resistant = ", ".join(sorted(defeated))
        persist = (
            " canonical UL97 mutations may persist;"
            if any(m.startswith("UL97") for ms in defeated.values() for m in ms)
            else ""
        )
        notes.append(
            f"Resistance was documented to {resistant}:{persist} an affected agent is reused only on expert advice "
            f"({_cite(statements['faq15-secondary-prophylaxis-same-agent'])})"
        )
    return tuple(notes)


def _prophylaxis_caveats(
    context: PatientContext, defeated: Mapping[str, list[str]], rr: bool, statements: Mapping[str, Statement]
) -> list[str]:
    """Caveats on the drugs a patient is on for prevention, whatever the state."""
    found = []
    for therapy in context.secondary_prophylaxis:
        drug = canonical(therapy)
        if drug == "letermovir" and defeated.get(drug):
            found.append(
                f"Secondary prophylaxis with letermovir although {confer(defeated[drug])} to it: do not reuse "
                "letermovir; due to insufficient data it cannot be recommended yet for secondary prophylaxis in R/R "
                "infections (FAQ14); consult an infectious diseases specialist"
            )
            continue
        if defeated.get(drug):
            persist = (
                "; canonical UL97 mutations may persist" if any(m.startswith("UL97") for m in defeated[drug]) else ""
            )
            found.append(
                f"Secondary prophylaxis with {therapy} despite documented resistance ({confer(defeated[drug])}): "
                f"{_cite(statements['faq15-secondary-prophylaxis-same-agent'])}{persist}"
            )
        if drug == "letermovir" and rr:
            found.append(
                "Secondary prophylaxis with letermovir after resistant or refractory infection: due to insufficient "
                "data, letermovir cannot be recommended yet for secondary prophylaxis in R/R infections (FAQ14)"
            )
    if context.age is not None and context.age < 18 and "letermovir" in context.on:
        # FAQ20, ungraded: "While letermovir prophylaxis is available in the adult population, it is
        # not approved in children under 18 years of age."
        found.append(
            f"Letermovir at {context.age:g} years: letermovir prophylaxis is not approved in children under 18 years "
            "of age (FAQ20)"
        )
    return found


def _prophylaxis_notes(statements: Mapping[str, Statement]) -> tuple[str, ...]:
    return (
        "Low-level DNAemia on letermovir prophylaxis, below the threshold for genotype testing: not an R/R "
        f"treatment plan. {_cite(statements['faq6-letermovir-low-level-id-consultation'])}",
    )


__all__ = [
    "APPROVED",
    "CANONICAL",
    "PatientContext",
    "Plan",
    "build_plan",
    "canonical",
    "from_second_source",
    "regimen_of_line",
]
