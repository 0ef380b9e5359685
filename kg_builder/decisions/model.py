"""What the decision layer answers, as frozen dataclasses: the result types of decide.py, which
report.py writes as text, JSON and PROV Turtle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SusceptibilityStatus = Literal["resistant", "no-known-resistance", "unknown"]
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
    # The measurements' IRIs, for PROV links in Turtle output; input-specific, so not compared.
    evidence_nodes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class GenotypeTesting:
    indicated: bool
    reasons: tuple[str, ...]
    done: bool = False  # a genotype test on or after the day the trigger was seen


@dataclass(frozen=True)
class Regimen:
    id: str
    min_mg_per_kg: float | None
    max_mg_per_kg: float | None
    dose_mg: float | None
    interval_h: float | None


@dataclass(frozen=True)
class Option:
    rank: int
    row: int
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
    option: str  # the Table 4 option's key, e.g. table4-row-2-option-1


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


__all__ = [
    "Advice",
    "Exclusion",
    "GenotypeTesting",
    "Measurement",
    "Option",
    "Recommendation",
    "RefractoryLabel",
    "RefractoryStatus",
    "Regimen",
    "Statement",
    "Susceptibility",
    "SusceptibilityStatus",
]
