"""What the decision layer answers, as frozen dataclasses: the result types of decide.py, which
report.py writes as text, JSON and PROV Turtle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SusceptibilityStatus = Literal["resistant", "uncertain", "no-known-resistance", "unknown"]
# What the infection calls for (docs/architecture.md, The treatment plan): "active" R/R infection
# gets a treatment plan; "controlled" infection the FAQ13 stop criterion and secondary prophylaxis;
# low-level DNAemia on letermovir prophylaxis the FAQ6 testing advice; "not-rr" no R/R plan.
InfectionState = Literal["active", "controlled", "prophylaxis-low-level", "not-rr"]
# An option's place in the plan: "do" first (the row's first-line choice, or its combination),
# "alternative" (the guideline's "or"), "next" (if the first fails), "consider" (an addition to
# an option above), "conditional" (only under the condition it names).
Role = Literal["do", "alternative", "next", "consider", "conditional"]
RefractoryLabel = Literal["refractory", "probable-refractory", "neither", "not-assessable"]


@dataclass(frozen=True)
class Statement:
    """A graded statement of the guideline, as reports cite it."""

    id: str
    grade: str
    polarity: str
    text: str
    section: str
    references: tuple[int, ...]
    about: tuple[str, ...] = ()  # the therapies the statement is about


@dataclass(frozen=True)
class Susceptibility:
    status: SusceptibilityStatus
    mutations: tuple[str, ...]
    levels: tuple[str, ...]
    sources: tuple[str, ...]
    untested_genes: tuple[str, ...]
    note: str
    assertions: tuple[str, ...] = ()  # the knowledge graph's resistance-assertion keys it rests on


@dataclass(frozen=True)
class Measurement:
    date: str | None
    iu_per_ml: float | None
    assay: str | None
    specimen: str | None = None  # plasma or whole-blood; None where the record does not say


@dataclass(frozen=True)
class RefractoryStatus:
    status: RefractoryLabel
    reason: str | None
    course_drug: str | None
    course_start: str | None
    baseline: Measurement | None
    follow_up: Measurement | None
    ratio: float | None
    failed_to_decline: bool
    dose_checked: bool = True  # False where the guideline states no treatment dose (foscarnet, cidofovir)
    # The dose as recorded: mg/kg or mg per dose, and the hours between doses.
    dose_mg_per_kg: float | None = None
    dose_mg: float | None = None
    interval_h: float | None = None
    # FAQ6's trigger, kept once seen: the first comparable load from day 14 on, of any specimen type,
    # that had not fallen by more than 1 log10 (a later fall does not undo it).
    failure_date: str | None = None

    @property
    def dose_text(self) -> str:
        """The dose as given: "7.5 mg/kg q12h", "400 mg q12h"; "" when the record gives none."""
        amount = f"{self.dose_mg_per_kg:g} mg/kg" if self.dose_mg_per_kg else ""
        amount = amount or (f"{self.dose_mg:g} mg" if self.dose_mg else "")
        return " ".join(filter(None, (amount, f"q{self.interval_h:g}h" if self.interval_h else "")))
    # The measurements' IRIs, for PROV links in Turtle output; input-specific, so not compared.
    evidence_nodes: tuple[str, ...] = field(default=(), compare=False)


# What to do about genotype testing now (genotype-testing.rq ?verdict, FAQ6 and Table 3).
GenotypeVerdict = Literal["indicated", "consult-id", "repeat-when-1000", "done", "not-indicated"]
# The latest plasma load against FAQ6's 1000 IU/mL; "not-checked" without a plasma load.
ThresholdCheck = Literal["met", "below", "not-checked"]


@dataclass(frozen=True)
class GenotypeTesting:
    indicated: bool  # send a genotype now: a trigger, none done since, and a load that allows it
    reasons: tuple[str, ...]
    done: bool = False  # a genotype test on or after the day the trigger was seen
    verdict: GenotypeVerdict = "not-indicated"
    threshold: ThresholdCheck = "not-checked"
    trigger_date: str | None = None  # the day the (latest) trigger was seen
    compartment_advice: bool = False  # CNS disease and no genotype from its fluid (FAQ3, FAQ6)


@dataclass(frozen=True)
class DetectedMutation:
    """One mutation a genotype test found, as the lab reported it."""

    mutation: str  # the knowledge graph's name: "UL97 A594V"
    gene: str
    reported: str | None
    variant_fraction: float | None  # percent of sequences, where the lab gives it
    significance: Literal["resistance", "uncertain"]  # Table 5 resistance, or not in Table 5
    minority: bool  # below the detection limit of standard assays (Table 3: < 25%); still counts
    not_seen_on: tuple[str, ...] = ()  # later tests of its gene that did not find it (FAQ15: still counted)
    note: str = ""  # what the finding means, in words (Table 3, Table 5, FAQ15)


@dataclass(frozen=True)
class GenotypeResult:
    """One genotype test: when, on which specimen (compartment), what it covered and found."""

    date: str
    specimen: str | None
    genes_tested: tuple[str, ...]
    viral_load: float | None
    mutations: tuple[DetectedMutation, ...]
    note: str = ""  # for a test that found nothing: what it cannot rule out (Table 3)
    coverage: Mapping[str, str] = field(default_factory=dict)  # gene read in part -> codons read ("287-1013")


@dataclass(frozen=True)
class Regimen:
    id: str
    min_mg_per_kg: float | None
    max_mg_per_kg: float | None
    dose_mg: float | None
    interval_h: float | None


@dataclass(frozen=True)
class Option:
    """One therapy the plan offers, once, with every Table 4 option and statement behind it."""

    rank: int
    row: int | None  # the Table 4 row that decides it; None where derived from FAQ9
    row_rank: int
    action: str
    modality: str
    therapy: str
    regimen: Regimen | None
    condition: str | None
    grade: tuple[str, ...]
    statements: tuple[str, ...]
    references: tuple[int, ...]
    reasons: tuple[str, ...]
    wording: str
    option: str  # the Table 4 option's key, e.g. table4-row-2-option-1, or derived:faq9-...
    role: Role = "do"
    sources: tuple[str, ...] = ()  # every Table 4 option (or derivation) behind it


@dataclass(frozen=True)
class Stop:
    """A drug the patient is on that the plan stops, with why (FAQ9 A-II: switch drug class)."""

    therapy: str
    reasons: tuple[str, ...]
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exclusion:
    therapy: str
    regimen: str | None
    row: int | None
    reasons: tuple[str, ...]
    sources: tuple[str, ...] = ()  # knowledge-graph keys the exclusion rests on


@dataclass(frozen=True)
class Advice:
    statement: str
    grade: str
    polarity: str
    text: str
    condition: str
    references: tuple[int, ...]
    about: tuple[str, ...] = ()  # the therapies the statement is about


@dataclass(frozen=True)
class Recommendation:
    """Everything the guideline says for one patient, each conclusion with its reasons."""

    patient: str
    susceptibility: dict[str, Susceptibility]
    uncertain_mutations: tuple[dict[str, str | float | None], ...]
    refractory: RefractoryStatus
    genotype_testing: GenotypeTesting
    table4_rows: tuple[int, ...]
    options: tuple[Option, ...]
    excluded: tuple[Exclusion, ...]
    advice: tuple[Advice, ...]
    warnings: tuple[str, ...] = field(default=())
    infection_state: InfectionState = "not-rr"
    courses: tuple[RefractoryStatus, ...] = ()  # every treatment course judged on its own (FAQ1)
    stop: tuple[Stop, ...] = ()
    plan_notes: tuple[str, ...] = ()
    genotype_history: tuple[GenotypeResult, ...] = ()  # every genotype test, oldest first
    infection_basis: tuple[Measurement, ...] = ()  # the loads the infection state rests on, latest first


__all__ = [
    "Advice",
    "DetectedMutation",
    "Exclusion",
    "GenotypeResult",
    "GenotypeTesting",
    "GenotypeVerdict",
    "InfectionState",
    "Measurement",
    "Option",
    "Recommendation",
    "RefractoryLabel",
    "RefractoryStatus",
    "Regimen",
    "Role",
    "Statement",
    "Stop",
    "Susceptibility",
    "SusceptibilityStatus",
    "ThresholdCheck",
]
