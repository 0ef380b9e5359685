"""Hypothesis strategies for JSON patient records, for the treatment-plan invariants.

The records have the format of ``ontology/examples/cases/*.json`` (``patient.schema.json``) and are
built to reach, with useful frequency, the situations the plan specification (plan-spec.md,
sections 1, 5, 7 and 8) tells apart:

- Table 4 rows alone and overlapping: every combination of rows whose genes do not overlap
  (1+3 ... 2+6, 1+7, 2+7, 3..6+7, and triples such as 1+6+7). Mutations are drawn per gene and
  phenotype from Table 5 as curated (``mutations.tsv``) to meet the rows' conditions
  (``table4-rows.tsv``), both read at import: no mutation list is written here. Low-level UL97
  mutations come beside UL54 ones (rows 2+3..6), high-level beside low-level (row 1).
- failing drugs: a current treatment course (no end date) of ganciclovir, valganciclovir,
  foscarnet, cidofovir or maribavir, a baseline load near its start and a follow-up 14-28 days
  later that rises more than tenfold (refractory), stays within tenfold (probable refractory) or
  falls; one time in three after a failing course of another drug, switched away from.
- maribavir failure (on maribavir, rising, a mutation of Table 5's maribavir column), letermovir
  resistance beside other rows, refractory CMV without a Table 5 mutation (row 8), variants of
  uncertain significance (real Table 5 positions, residues the table does not list).
- controlled infection (two consecutive undetectable loads 14-42 days into the latest course)
  and low-level blips (1-999 IU/mL) on current letermovir prophylaxis or secondary prophylaxis.
- disease sites (none, non-CNS, CNS), CSF genotypes beside plasma ones, children, steroid doses
  0-2 mg/kg/day, and, behind ``WITH_INTOLERANCE``, the proposed ``intolerance`` list.

Every record is valid against the JSON Schema and the SHACL shapes (tests/test_strategies.py;
warnings such as genotyping below 1000 IU/mL may come). All loads of a record are plasma of one
assay, so each course's FAQ1 status is the one its trend names. Dates lie in 2024-2026. The id is
``SYN-<scenario>``: give records distinct ids before putting several in one store.

``labelled_records()`` draws ``(scenario, record)`` (for ``hypothesis.event``); ``records()``
draws the record alone; ``overlapping_rows()``, ``single_row()``, ``refractory_without_mutation()``,
``maribavir_failure()``, ``controlled_infection()`` and ``prophylaxis_blip()`` draw one scenario.
``table4_rows(record)`` is an oracle independent of the package: the rows 1-7 that plan-spec R1.1
selects from the record's mutations. A record costs about 50 draws (some 8 ms).
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import second_source
from hypothesis import strategies as st

from kg_builder.knowledge.specs import RESISTANCE_DRUGS
from kg_builder.knowledge.tables import load_tables
from kg_builder.patients.mutations import ONE_LETTER, THREE_LETTER, parse_mutation
from kg_builder.patients.record import DISEASE_SITES, DONORS

WITH_INTOLERANCE = True
"""Emit the proposed ``intolerance`` list (plan-spec R0.6). The field is being added on another
branch; while this is False the key is never emitted. Read at draw time, so a test may set it."""

_TABLES = load_tables()
TABLE5: Mapping[str, Mapping[str, str]] = {row["mutation"]: row for row in _TABLES["mutations"]}
CNS_SITES = frozenset(row["site"] for row in _TABLES["disease-sites"] if row["cns"] == "true") & set(DISEASE_SITES)
OTHER_SITES = tuple(site for site in DISEASE_SITES if site not in CNS_SITES)

TREATMENT_DRUGS = ("ganciclovir", "valganciclovir", "foscarnet", "cidofovir", "maribavir")
CANONICAL = {"valganciclovir": "ganciclovir"}  # Table 5 column "Ganciclovir/valganciclovir"
INTOLERANCE_REASONS = (
    "nephrotoxicity", "myelosuppression", "electrolyte-disturbance", "hypersensitivity", "infusion-reaction", "other",
)  # fmt: skip
ASSAYS = ("Roche cobas CMV, hospital lab", "Abbott RealTime CMV, hospital lab", "Qiagen artus CMV, reference lab")

# Scenario labels (the side channel of labelled_records).
OVERLAPPING_ROWS = "overlapping-rows"
SINGLE_ROW = "single-row"
REFRACTORY_WITHOUT_MUTATION = "refractory-without-mutation"
MARIBAVIR_FAILURE = "maribavir-failure"
CONTROLLED_INFECTION = "controlled-infection"
PROPHYLAXIS_BLIP = "prophylaxis-blip"
SECOND_SOURCE_RESISTANCE = "second-source-resistance"
_WEIGHTS = {
    OVERLAPPING_ROWS: 8,
    SINGLE_ROW: 3,
    REFRACTORY_WITHOUT_MUTATION: 2,
    MARIBAVIR_FAILURE: 3,
    CONTROLLED_INFECTION: 3,
    PROPHYLAXIS_BLIP: 3,
    SECOND_SOURCE_RESISTANCE: 3,
}
SCENARIOS = tuple(_WEIGHTS)

# Trends of a course's follow-up load against its baseline b (plan-spec R7.5): rising is f > 10b
# (refractory), same is b <= f <= 10b (probable refractory), falling is f < b.
RISING, SAME, FALLING, CONTROLLED = "rising", "same", "falling", "controlled"

_EPOCH = datetime.date(2024, 1, 1)  # day 0; transplants fall in the first 600 days, records end before 2027


# --- Table 5 and the Table 4 rows, as data ------------------------------------------------------


def resisted(key: str) -> frozenset[str]:
    """The drugs a mutation confers resistance to: a Table 5 mutation's R cells, or for one Table 5
    does not list, HerpesDRG's calls (second_source.py, the oracle of herpesdrg-calls.rq)."""
    if key in TABLE5:
        return frozenset(drug for drug in RESISTANCE_DRUGS if TABLE5[key][drug] == "R")
    return frozenset(drug for drug in RESISTANCE_DRUGS if second_source.defeats(key, drug))


def gene_of(key: str) -> str:
    return key.split("_", 1)[0]


def gcv_level(key: str) -> str:
    """Table 5's ganciclovir level; a UL97 ganciclovir mutation only HerpesDRG knows is high (FAQ9)."""
    if key in TABLE5:
        return TABLE5[key]["gcv_level"]
    return "high" if gene_of(key) == "UL97" and "ganciclovir" in resisted(key) else ""


@dataclass(frozen=True)
class RowRule:
    """A mutation-selected Table 4 row (table4-rows.tsv): the row applies when the detected
    mutations in its genes resist every drug of ``required``, none of ``ruled_out``, and their
    highest ganciclovir level is ``level`` (if the row names one)."""

    number: int
    genes: frozenset[str]
    required: frozenset[str]
    ruled_out: frozenset[str]
    level: str

    def applies(self, keys: Iterable[str]) -> bool:
        inside = [key for key in keys if gene_of(key) in self.genes and resisted(key)]
        covered = frozenset().union(*(resisted(key) for key in inside))
        levels = {gcv_level(key) for key in inside}
        highest = max(levels, key=_LEVELS.__getitem__, default="")
        return self.required <= covered and not covered & self.ruled_out and (not self.level or highest == self.level)

    def admits(self, key: str) -> bool:
        """A mutation that may be among this row's mutations without making the row fall: in its
        genes, no R for a drug the row rules out, a ganciclovir level no higher than the row's."""
        row = TABLE5[key]
        return (row["gene"] in self.genes and not resisted(key) & self.ruled_out
                and (not self.level or _LEVELS[row["gcv_level"]] <= _LEVELS[self.level]))  # fmt: skip


_LEVELS = {"": 0, "low": 1, "high": 2}
ROW_RULES: Mapping[int, RowRule] = {
    int(row["row"]): RowRule(int(row["row"]), frozenset(row["genes"].split()), frozenset(row["resistant_to"].split()),
                             frozenset(row["not_resistant_to"].split()), row["gcv_level"])
    for row in _TABLES["table4-rows"]
    if row["genes"]
}  # fmt: skip
_ADMITTED = {number: sorted(key for key in TABLE5 if rule.admits(key)) for number, rule in ROW_RULES.items()}

ROW_COMBINATIONS: tuple[frozenset[int], ...] = tuple(
    frozenset(combination)
    for size in range(1, len(ROW_RULES) + 1)
    for combination in itertools.combinations(sorted(ROW_RULES), size)
    if all(not ROW_RULES[a].genes & ROW_RULES[b].genes for a, b in itertools.combinations(combination, 2))
)
"""Every set of mutation-selected rows that can apply together: rows whose genes do not overlap
(rows 1 and 2 share UL97, rows 3-6 share UL54; row 8 needs no mutation at all)."""
OVERLAPS = tuple(rows for rows in ROW_COMBINATIONS if len(rows) > 1)

# Mutations that select no row whatever is beside them: no R for any drug a row of their gene
# names, and no ganciclovir level (UL97 maribavir-only mutations, UL27).
BYSTANDERS = sorted(
    key for key in TABLE5
    if not TABLE5[key]["gcv_level"] and all(
        not resisted(key) & (rule.required | rule.ruled_out) for rule in ROW_RULES.values()
        if TABLE5[key]["gene"] in rule.genes)
)  # fmt: skip
MARIBAVIR_RESISTANCE = sorted(key for key in TABLE5 if "maribavir" in resisted(key))
LETERMOVIR_GENES = frozenset(TABLE5[key]["gene"] for key in TABLE5 if "letermovir" in resisted(key))


def _uncertain_variants() -> list[str]:
    """Substitutions at Table 5 positions (reference residue as the table has it) to a residue
    the table does not list there: real positions, uncertain significance (Safety rule 2)."""
    listed: dict[tuple[str, str, str], set[str]] = {}
    for row in TABLE5.values():
        listed.setdefault((row["gene"], row["position"], row["ref"]), set()).add(row["alt"])
    return sorted(
        f"{gene}:{ref}{position}{alt}"
        for (gene, position, ref), alts in listed.items()
        for alt in sorted(ONE_LETTER - alts - {ref})
    )


# Without the ones HerpesDRG knows (a second-source call that changes a decision): those are not
# of uncertain significance any more (docs/architecture.md, Second source).
UNCERTAIN_VARIANTS = [
    v for v in _uncertain_variants() if second_source.key(v) not in second_source.known_to_second_source()
]
# Mutations only HerpesDRG knows, resistant to some drug: drawn beside Table 5's in the invariants.
SECOND_SOURCE_MUTATIONS = list(second_source.second_source_only())


def detected_mutations(record: Mapping[str, Any]) -> set[str]:
    """The knowledge-graph keys (UL97_C592G, UL27_C415stop) of every mutation any test reports."""
    keys = set()
    for test in record.get("genotype_tests", []):
        only = test["genes_tested"][0] if len(test["genes_tested"]) == 1 else None
        for entry in test.get("mutations", []):
            text, gene = (entry, only) if isinstance(entry, str) else (entry["mutation"], entry.get("gene"))
            keys.add(parse_mutation(text, gene).local_name)
    return keys


def table4_rows(record: Mapping[str, Any]) -> frozenset[int]:
    """The Table 4 rows 1-7 that plan-spec R1.1 selects from every mutation the record reports,
    read from the tables, not from the package's queries. Row 8 depends on the timeline and is
    not included."""
    keys = detected_mutations(record)
    return frozenset(number for number, rule in ROW_RULES.items() if rule.applies(keys))


def _check_rows_producible() -> None:
    for number, rule in ROW_RULES.items():
        admitted = _ADMITTED[number]
        needed = set(rule.required) - set().union(*(resisted(key) for key in admitted))
        if needed or (rule.level and not any(TABLE5[key]["gcv_level"] == rule.level for key in admitted)):
            raise ValueError(f"Table 4 row {number}: Table 5 has no mutations to select it")


_check_rows_producible()


# --- drawing helpers: plain functions of ``draw`` (no strategy objects built per draw) -----------

T = TypeVar("T")


def _pick(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of ``options``, uniformly (shrinks towards the first)."""
    return options[draw(st.integers(0, len(options) - 1))]


def _weighted(draw: st.DrawFn, pairs: Sequence[tuple[T, int]]) -> T:
    """One value of ``(value, weight)`` pairs, with those weights."""
    ticket = draw(st.integers(0, sum(weight for _, weight in pairs) - 1))
    for value, weight in pairs:
        if ticket < weight:
            return value
        ticket -= weight
    raise AssertionError("unreachable")


def _chance(draw: st.DrawFn, yes: int, no: int) -> bool:
    return _weighted(draw, ((True, yes), (False, no)))


def _iso(day: int) -> str:
    return (_EPOCH + datetime.timedelta(days=day)).isoformat()


def _row_mutations(draw: st.DrawFn, number: int) -> list[str]:
    rule, admitted = ROW_RULES[number], _ADMITTED[number]
    chosen: list[str] = []
    if rule.level:
        chosen.append(_pick(draw, [key for key in admitted if TABLE5[key]["gcv_level"] == rule.level]))
    while uncovered := rule.required - frozenset().union(*(resisted(key) for key in chosen)):
        chosen.append(_pick(draw, [key for key in admitted if resisted(key) & uncovered]))
    chosen += [_pick(draw, admitted) for _ in range(_weighted(draw, ((0, 3), (1, 2), (2, 1))))]
    return list(dict.fromkeys(chosen))


def _combination_mutations(draw: st.DrawFn, rows: frozenset[int] | None = None) -> list[str]:
    chosen = rows if rows is not None else _pick(draw, ROW_COMBINATIONS)
    if chosen not in ROW_COMBINATIONS:
        raise ValueError(f"rows {sorted(chosen)} cannot apply together: their genes overlap")
    return list(dict.fromkeys(key for number in sorted(chosen) for key in _row_mutations(draw, number)))


@st.composite
def row_mutations(draw: st.DrawFn, number: int) -> list[str]:
    """Table 5 keys that select Table 4 row ``number`` (1-7) in its genes: one at the row's
    ganciclovir level if it names one, more until every drug the row requires is covered, then
    up to two more the row admits (e.g. a low-level UL97 mutation beside a high-level one)."""
    return _row_mutations(draw, number)


@st.composite
def combination_mutations(draw: st.DrawFn, rows: Iterable[int] | None = None) -> list[str]:
    """Table 5 keys that select the rows of one of ``ROW_COMBINATIONS`` (or ``rows``) together."""
    return _combination_mutations(draw, None if rows is None else frozenset(rows))


_THREE = {one: name.title() for name, one in THREE_LETTER.items()}


_NOTATIONS = (("colon", 5), ("space", 1), ("fraction", 2), ("hgvs", 1))


def _notation(draw: st.DrawFn, key: str, style: str) -> str | dict[str, Any]:
    """One Table 5 mutation in one of the notations mutations.py reads (a laboratory's report
    uses one for all its mutations); "fraction" adds a variant fraction (5-100%)."""
    row = TABLE5[key]
    gene, ref, position, alt = row["gene"], row["ref"], row["position"], row["alt"]
    if style == "space":
        return f"{gene} {ref}{position}{alt}"
    if style == "hgvs":
        return {"mutation": f"p.{_THREE[ref]}{position}{_THREE[alt]}", "gene": gene}
    if style == "fraction":
        return {"mutation": f"{gene}:{ref}{position}{alt}", "variant_fraction": draw(st.integers(5, 100))}
    return f"{gene}:{ref}{position}{alt}"


def _dose(mg_per_kg: float | None = None, mg: float | None = None, interval: float = 12) -> dict[str, Any]:
    return ({"dose_mg_per_kg": mg_per_kg} if mg_per_kg else {"dose_mg": mg}) | {"interval_h": interval}


# Usual doses (the standard and high ganciclovir doses of regimens.tsv among them); sometimes none.
_DOSES: Mapping[str, tuple[tuple[dict[str, Any], int], ...]] = {
    "ganciclovir": ((_dose(5), 6), (_dose(7.5), 1), (_dose(10), 1), ({}, 1)),
    "valganciclovir": ((_dose(mg=900), 4), ({}, 1)),
    "foscarnet": ((_dose(90), 4), (_dose(60, interval=8), 1), ({}, 1)),
    "cidofovir": ((_dose(5, interval=168), 4), ({}, 1)),
    "maribavir": ((_dose(mg=400), 4), ({}, 1)),
    "letermovir": ((_dose(mg=480, interval=24), 4), (_dose(mg=240, interval=24), 1), ({}, 1)),
}
_TREATMENT_OR_NONE = "treatment or none"


@cache
def _course_options(drug: str, intent: str) -> tuple[tuple[tuple[dict[str, Any], str | None], int], ...]:
    intents = (("treatment", 6), (None, 1)) if intent == _TREATMENT_OR_NONE else ((intent, 1),)
    return tuple(((dose, chosen), weight * times) for dose, weight in _DOSES[drug] for chosen, times in intents)


@dataclass
class _Timeline:
    """A record's courses, loads and tests by day number (days since 2024-01-01) while drawn."""

    transplant: int
    assay: str
    courses: list[dict[str, Any]] = field(default_factory=list)
    loads: list[tuple[int, int]] = field(default_factory=list)
    follow_ups: list[int] = field(default_factory=list)  # days of the judged courses' follow-ups
    tests: list[dict[str, Any]] = field(default_factory=list)
    baseline_day: int = 0

    def course(self, draw: st.DrawFn, drug: str, start: int, end: int | None, intent: str) -> None:
        """A course; ``intent`` _TREATMENT_OR_NONE is "treatment", one time in seven left out
        (plan-spec R0.5: no intent means treatment for these drugs). Dose and intent are one draw."""
        dose, chosen = _weighted(draw, _course_options(drug, intent))
        entry: dict[str, Any] = {"drug": drug, **dose, "start": start}
        if end is not None:
            entry["end"] = end
        if chosen is not None:
            entry["intent"] = chosen
        self.courses.append(entry)

    def test(self, draw: st.DrawFn, day: int, keys: Iterable[str], extra: Iterable[str] = (),
             specimen: str = "plasma") -> None:  # fmt: skip
        """A genotype test reporting ``keys`` (Table 5) and ``extra`` (uncertain variants). The
        genes tested: every reported mutation's gene, those a laboratory tests for the drugs
        given (UL97, UL54; UL27 with maribavir; UL56, UL89, UL51 with letermovir), sometimes one
        more."""
        keys, extra = list(keys), list(extra)
        drugs = {course["drug"] for course in self.courses}
        genes = {TABLE5[key]["gene"] for key in keys} | {text.split(":")[0] for text in extra} | {"UL97", "UL54"}
        genes |= ({"UL27"} if "maribavir" in drugs else set()) | (LETERMOVIR_GENES if "letermovir" in drugs else set())
        one_more, with_load = _weighted(
            draw, (((False, False), 4), ((False, True), 4), ((True, False), 1), ((True, True), 1))
        )
        if one_more:
            genes.add(_pick(draw, ALL_GENES))
        test: dict[str, Any] = {"date": day, "specimen": specimen, "genes_tested": _gene_order(genes)}
        load = next((load for when, load in self.loads if when == day), None)
        if specimen == "plasma" and load is not None and with_load:
            test["viral_load_iu_per_ml"] = load
        style = _weighted(draw, _NOTATIONS) if keys else "colon"
        test["mutations"] = [_notation(draw, key, style) for key in keys] + extra
        self.tests.append(test)


ALL_GENES = tuple(sorted({row["gene"] for row in TABLE5.values()}))


def _gene_order(genes: Iterable[str]) -> list[str]:
    """UL97 and UL54 first, as laboratories report them, then the others by number."""
    first = [gene for gene in ("UL97", "UL54") if gene in genes]
    return first + sorted(set(genes) - set(first), key=lambda gene: int(gene[2:]))


def _after(draw: st.DrawFn, baseline: int, trend: str) -> int:
    """A follow-up load with the given trend against ``baseline`` (integers, plan-spec R7.5)."""
    if trend == RISING:
        return draw(st.integers(10 * baseline + 1, 100 * baseline))
    if trend == SAME:
        return draw(st.integers(baseline, 10 * baseline))
    return draw(st.integers(1, baseline - 1))


def _prelude(draw: st.DrawFn, prophylaxis_current: bool = True) -> tuple[_Timeline, int]:
    """Transplant, letermovir prophylaxis (usually; sometimes still current) and the day
    treatment starts."""
    timeline = _Timeline(transplant=draw(st.integers(0, 600)), assay=_pick(draw, ASSAYS))
    prophylaxis = timeline.transplant + draw(st.integers(0, 28))
    start = prophylaxis + draw(st.integers(30, 100))
    choice = _weighted(draw, (("ended", 6), ("current", 2 if prophylaxis_current else 0), ("none", 2)))
    if choice != "none":
        end = None if choice == "current" else draw(st.integers(prophylaxis + 1, start))
        timeline.course(draw, "letermovir", prophylaxis, end, "prophylaxis")
    return timeline, start


def _treat(draw: st.DrawFn, timeline: _Timeline, start: int, drugs: list[str], trends: list[str | None]) -> None:
    """Treatment courses one after another from ``start``, each switched to the next at (or up
    to three days after) its follow-up, which is the next one's baseline. The last course is
    current. Trends: RISING, SAME, FALLING; for the last course also None (no follow-up yet:
    too early) or CONTROLLED (two undetectable loads 14-42 days in; the course may end on the
    second)."""
    baseline_day = start - draw(st.integers(-2, 7))
    level = draw(st.integers(1000, 500_000))
    if draw(st.booleans()):  # the first detection, lower, a week or two earlier
        timeline.loads.append((baseline_day - draw(st.integers(7, 14)), draw(st.integers(150, level))))
    timeline.loads.append((baseline_day, level))
    timeline.baseline_day = baseline_day
    course_start = start
    for index, (drug, trend) in enumerate(zip(drugs, trends, strict=True)):
        if trend == CONTROLLED:
            if draw(st.booleans()):
                timeline.loads.append((course_start + draw(st.integers(4, 6)), draw(st.integers(1, level))))
            second = course_start + draw(st.integers(14, 42))
            timeline.loads += [(max(second - draw(st.integers(2, 7)), course_start + 7), 0), (second, 0)]
            end = _weighted(draw, ((None, 3), (second, 1)))
            timeline.course(draw, drug, course_start, end, _TREATMENT_OR_NONE)
            continue
        if draw(st.booleans()):  # a load between the baseline and day 14, which FAQ1 does not judge
            between = draw(st.integers(level // 4 + 1, level * 4))
            timeline.loads.append((course_start + draw(st.integers(4, 13)), between))
        if trend is None:
            timeline.course(draw, drug, course_start, None, _TREATMENT_OR_NONE)
            continue
        follow_up = course_start + draw(st.integers(14, 28))
        level = _after(draw, level, trend)
        timeline.loads.append((follow_up, level))
        timeline.follow_ups.append(follow_up)
        end = None if index == len(drugs) - 1 else follow_up + draw(st.integers(0, 3))
        timeline.course(draw, drug, course_start, end, _TREATMENT_OR_NONE)
        if end is not None:
            course_start = end
    timeline.loads.sort()


def _course_plan(draw: st.DrawFn, final: str, trend: str | None) -> tuple[list[str], list[str | None]]:
    """The current course alone, or (one time in three) after a failing course of another drug."""
    if _chance(draw, 1, 2):
        others = [drug for drug in TREATMENT_DRUGS if CANONICAL.get(drug, drug) != CANONICAL.get(final, final)]
        return [_pick(draw, others), final], [_pick(draw, (RISING, SAME)), trend]
    return [final], [trend]


def _failing_treatment(draw: st.DrawFn, last: str | None = None, last_trend: str | None = None) -> _Timeline:
    """A current course, sometimes after a switch. Its trend (unless given) rises, stays or
    falls; after a switch it may also be too early to judge."""
    timeline, start = _prelude(draw)
    drugs, trends = _course_plan(draw, last or _pick(draw, TREATMENT_DRUGS), last_trend)
    if last_trend is None:
        trends[-1] = _weighted(draw, ((RISING, 4), (SAME, 3), (FALLING, 2), (None, 1 if len(drugs) > 1 else 0)))
    _treat(draw, timeline, start, drugs, trends)
    return timeline


def _controlled(draw: st.DrawFn, prophylaxis_current: bool = True) -> _Timeline:
    """A treated episode ending in two undetectable loads, sometimes after a switch, sometimes
    with mutations found on the way (at the failing course's follow-up, else at the baseline)."""
    timeline, start = _prelude(draw, prophylaxis_current)
    _treat(draw, timeline, start, *_course_plan(draw, _pick(draw, TREATMENT_DRUGS), CONTROLLED))
    if draw(st.booleans()):
        keys = _combination_mutations(draw)
        timeline.test(draw, timeline.follow_ups[0] if timeline.follow_ups else timeline.baseline_day, keys)
    return timeline


def _genotype(draw: st.DrawFn, timeline: _Timeline, keys: list[str], sites: list[str]) -> None:
    """Test at a follow-up, or a few days after it; sometimes the mutations split over the two
    courses' follow-ups (plan-spec R7.11); with CNS disease, sometimes a CSF test as well (R7.12)."""
    keys = list(dict.fromkeys(keys))
    extra = [_pick(draw, UNCERTAIN_VARIANTS)] if _chance(draw, 1, 4) else []
    days = timeline.follow_ups
    if len(days) > 1 and len(keys) > 1 and draw(st.booleans()):
        cut = draw(st.integers(1, len(keys) - 1))
        timeline.test(draw, days[0], keys[:cut])
        timeline.test(draw, days[-1], keys[cut:], extra)
    else:
        timeline.test(draw, _pick(draw, days) + _weighted(draw, ((0, 4), (1, 1), (3, 1))), keys, extra)
    if set(sites) & CNS_SITES and keys and draw(st.booleans()):
        found = [key for key in keys if draw(st.booleans())] or keys[:1]
        timeline.test(draw, timeline.tests[-1]["date"] + draw(st.integers(1, 3)), found, specimen="csf")


def _sites(draw: st.DrawFn) -> list[str]:
    """No disease (half the time), non-CNS sites, or a CNS site (retinitis, encephalitis,
    ventriculitis), sometimes beside another."""
    kind = _weighted(draw, (("none", 5), ("other", 3), ("cns", 2)))
    if kind == "none":
        return []
    sites = list(dict.fromkeys(_pick(draw, OTHER_SITES) for _ in range(draw(st.integers(int(kind == "other"), 2)))))
    if kind == "cns":
        sites.insert(draw(st.integers(0, len(sites))), _pick(draw, sorted(CNS_SITES)))
    return sites


_TRANSPLANTS = tuple(itertools.product(DONORS, (False, True)))
_HOST_FLAGS = tuple(((gvhd, lymphopenia, car_t), 1 if car_t else 5)
                    for gvhd, lymphopenia, car_t in itertools.product((False, True), repeat=3))  # fmt: skip


def _patient(draw: st.DrawFn, label: str, timeline: _Timeline, sites: list[str]) -> dict[str, Any]:
    """The record around a timeline: host, transplant, sites; day numbers become ISO dates."""
    child = _chance(draw, 1, 4)
    record: dict[str, Any] = {
        "id": f"SYN-{label}",
        "age_years": draw(st.integers(1, 17)) if child else draw(st.integers(18, 80)),
    }
    donor, depleted = _pick(draw, _TRANSPLANTS)
    transplant: dict[str, Any] = {"donor": donor, "t_cell_depleted": depleted}
    if _chance(draw, 4, 1):
        transplant["date"] = _iso(timeline.transplant)
    record["transplant"] = transplant
    record["disease_sites"] = sites
    record["antivirals"] = [
        {key: _iso(value) if key in ("start", "end") else value for key, value in course.items()}
        for course in sorted(timeline.courses, key=lambda course: course["start"])
    ]
    record["viral_loads"] = [
        {"date": _iso(day), "iu_per_ml": load, "specimen": "plasma", "assay": timeline.assay}
        for day, load in sorted(timeline.loads)
    ]
    record["genotype_tests"] = [{**test, "date": _iso(test["date"])} for test in timeline.tests]
    gvhd, lymphopenia, car_t = _weighted(draw, _HOST_FLAGS)
    record["host_factors"] = {
        "gvhd": gvhd,
        "steroid_mg_per_kg_per_day": draw(st.integers(0, 20)) / 10,
        "lymphopenia": lymphopenia,
        "car_t": car_t,
        "scid": child and _chance(draw, 1, 5),
    }
    if WITH_INTOLERANCE and _chance(draw, 1, 3):
        drugs = dict.fromkeys(_pick(draw, TREATMENT_DRUGS) for _ in range(draw(st.integers(1, 2))))
        record["intolerance"] = [{"drug": drug, "reason": _pick(draw, INTOLERANCE_REASONS)} for drug in drugs]
    return record


# --- the scenarios ------------------------------------------------------------------------------


def _mutation_scenario(draw: st.DrawFn, rows: frozenset[int], label: str) -> dict[str, Any]:
    keys = _combination_mutations(draw, rows)
    if _chance(draw, 1, 3):
        keys.append(_pick(draw, BYSTANDERS))
    keys = list(dict.fromkeys(keys))[:: -1 if draw(st.booleans()) else 1]  # rows in either order
    timeline = _failing_treatment(draw)
    sites = _sites(draw)
    _genotype(draw, timeline, keys, sites)
    return _patient(draw, label, timeline, sites)


@st.composite
def overlapping_rows(draw: st.DrawFn, rows: Iterable[int] | None = None) -> dict[str, Any]:
    """Mutations for two or three Table 4 rows at once (any of ``OVERLAPS``, or ``rows``), on a
    treatment course that fails or responds."""
    return _mutation_scenario(draw, frozenset(rows) if rows is not None else _pick(draw, OVERLAPS), OVERLAPPING_ROWS)


@st.composite
def single_row(draw: st.DrawFn) -> dict[str, Any]:
    """Mutations for one Table 4 row (1-7), on a treatment course that fails or responds."""
    return _mutation_scenario(draw, frozenset({_pick(draw, sorted(ROW_RULES))}), SINGLE_ROW)


@st.composite
def refractory_without_mutation(draw: st.DrawFn) -> dict[str, Any]:
    """A failing (or responding) course and no Table 5 mutation: a negative genotype, one with
    a variant of uncertain significance only, or none (row 8 when refractory)."""
    timeline = _failing_treatment(draw)
    if _chance(draw, 3, 1):
        extra = [_pick(draw, UNCERTAIN_VARIANTS)] if _chance(draw, 1, 2) else []
        timeline.test(draw, timeline.follow_ups[-1], [], extra)
    return _patient(draw, REFRACTORY_WITHOUT_MUTATION, timeline, _sites(draw))


@st.composite
def maribavir_failure(draw: st.DrawFn) -> dict[str, Any]:
    """On maribavir with a load risen more than tenfold and a maribavir-resistance mutation
    (Table 5's maribavir column: UL97 or UL27), sometimes beside mutations of other rows."""
    timeline = _failing_treatment(draw, last="maribavir", last_trend=RISING)
    keys = [_pick(draw, MARIBAVIR_RESISTANCE) for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        keys += _combination_mutations(draw)
    sites = _sites(draw)
    _genotype(draw, timeline, keys, sites)
    return _patient(draw, MARIBAVIR_FAILURE, timeline, sites)


@st.composite
def controlled_infection(draw: st.DrawFn) -> dict[str, Any]:
    """Two consecutive undetectable loads (0 IU/mL) 14-42 days into the latest treatment course,
    sometimes after switching from a failing one, sometimes with mutations found on the way."""
    timeline = _controlled(draw)
    return _patient(draw, CONTROLLED_INFECTION, timeline, _sites(draw))


@st.composite
def prophylaxis_blip(draw: st.DrawFn) -> dict[str, Any]:
    """Current letermovir prophylaxis, no current treatment, and last a low-level plasma load
    (1-999 IU/mL): on primary prophylaxis since the transplant (sometimes after undetectable
    loads), or on secondary prophylaxis after a treated, controlled episode (which may have left
    mutations)."""
    if _chance(draw, 2, 1):
        timeline = _Timeline(transplant=draw(st.integers(0, 600)), assay=_pick(draw, ASSAYS))
        start = timeline.transplant + draw(st.integers(0, 28))
        timeline.course(draw, "letermovir", start, None, "prophylaxis")
        blip = start + draw(st.integers(7, 90))
        zeros = {draw(st.integers(start, blip - 1)) for _ in range(draw(st.integers(0, 2)))}
        timeline.loads += [(day, 0) for day in sorted(zeros)]
    else:
        timeline = _controlled(draw, prophylaxis_current=False)
        second = max(day for day, _ in timeline.loads)
        timeline.courses[-1]["end"] = second
        start = second + draw(st.integers(0, 3))
        timeline.course(draw, "letermovir", start, None, "secondary-prophylaxis")
        blip = start + draw(st.integers(7, 60))
    timeline.loads.append((blip, draw(st.integers(100, 999)) if _chance(draw, 3, 1) else draw(st.integers(1, 99))))
    sites = [_pick(draw, OTHER_SITES)] if _chance(draw, 1, 5) else []
    return _patient(draw, PROPHYLAXIS_BLIP, timeline, sites)


@st.composite
def second_source_resistance(draw: st.DrawFn) -> dict[str, Any]:
    """A failing (or responding) course and a genotype with one or two mutations only HerpesDRG
    knows (a UL97 deletion, another substitution at a Table 5 codon, a UL54 or UL56 change),
    sometimes beside Table 5 mutations of a row (docs/architecture.md, Second source)."""
    timeline = _failing_treatment(draw)
    keys = _combination_mutations(draw) if _chance(draw, 1, 2) else []
    extra = list(dict.fromkeys(_pick(draw, SECOND_SOURCE_MUTATIONS) for _ in range(draw(st.integers(1, 2)))))
    timeline.test(draw, timeline.follow_ups[-1] if timeline.follow_ups else timeline.baseline_day, keys, extra)
    return _patient(draw, SECOND_SOURCE_RESISTANCE, timeline, _sites(draw))


_SCENARIO_STRATEGIES: Mapping[str, Callable[[], st.SearchStrategy[dict[str, Any]]]] = {
    OVERLAPPING_ROWS: overlapping_rows,
    SINGLE_ROW: single_row,
    REFRACTORY_WITHOUT_MUTATION: refractory_without_mutation,
    MARIBAVIR_FAILURE: maribavir_failure,
    CONTROLLED_INFECTION: controlled_infection,
    PROPHYLAXIS_BLIP: prophylaxis_blip,
    SECOND_SOURCE_RESISTANCE: second_source_resistance,
}
_DRAWN = {label: strategy() for label, strategy in _SCENARIO_STRATEGIES.items()}


@st.composite
def labelled_records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """``(scenario, record)``: the scenario (one of ``SCENARIOS``) for ``hypothesis.event``."""
    label = _weighted(draw, tuple(_WEIGHTS.items()))
    return label, draw(_DRAWN[label])


def records() -> st.SearchStrategy[dict[str, Any]]:
    """The main strategy: patient records of every scenario."""
    return labelled_records().map(lambda pair: pair[1])


__all__ = [
    "ALL_GENES",
    "BYSTANDERS",
    "CNS_SITES",
    "CONTROLLED",
    "CONTROLLED_INFECTION",
    "FALLING",
    "LETERMOVIR_GENES",
    "MARIBAVIR_FAILURE",
    "MARIBAVIR_RESISTANCE",
    "OVERLAPPING_ROWS",
    "OVERLAPS",
    "PROPHYLAXIS_BLIP",
    "REFRACTORY_WITHOUT_MUTATION",
    "RISING",
    "ROW_COMBINATIONS",
    "ROW_RULES",
    "SAME",
    "SCENARIOS",
    "SECOND_SOURCE_MUTATIONS",
    "SECOND_SOURCE_RESISTANCE",
    "SINGLE_ROW",
    "TABLE5",
    "TREATMENT_DRUGS",
    "UNCERTAIN_VARIANTS",
    "WITH_INTOLERANCE",
    "RowRule",
    "combination_mutations",
    "controlled_infection",
    "detected_mutations",
    "labelled_records",
    "maribavir_failure",
    "overlapping_rows",
    "prophylaxis_blip",
    "records",
    "refractory_without_mutation",
    "resisted",
    "row_mutations",
    "second_source_resistance",
    "single_row",
    "table4_rows",
]
