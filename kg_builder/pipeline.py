"""The data's way for one input or a chunk of them: read -> validate -> decide. The API, batch
mode and the cohort store all go through here, so the three cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks.chunks import isolated_chunks
from .checks.findings import FileReport, PatientReport
from .checks.validate import validate_chunk, validate_input
from .decisions.decide import recommend_graph, recommend_graphs
from .decisions.model import Recommendation
from .errors import CmvrrError, error_text, shown
from .patients.readers import PatientInput, WorkItem
from .terms import patient_name

Lines = list[dict[str, Any]]


def warnings_of(report: FileReport) -> Callable[[str], tuple[str, ...]]:
    """What a conforming input's report asks the reader to weigh, by patient: each patient's
    recommendations show its own warnings only, whatever file it came in."""
    by_patient = {
        p.patient: tuple(f"{f.focus}: {f.message}" for f in p.findings if f.severity != "Violation")
        for p in report.patients
    }
    return lambda patient: by_patient.get(patient, ())


def evaluate(
    item: PatientInput, engine: str = "oxigraph", validator: str = "oxigraph"
) -> tuple[FileReport, tuple[Recommendation, ...]]:
    """One input's validation report and, if it conforms, its recommendations."""
    report = validate_input(item, validator=validator)
    if not report.conforms:
        return report, ()
    return report, tuple(recommend_graph(item, engine, warnings_of(report)))


@dataclass(frozen=True)
class Outcome:
    """What became of one item: the lines that record its problems, or its recommendations."""

    problems: Lines = field(default_factory=list)
    recommendations: tuple[Recommendation, ...] = ()
    patient: PatientInput | None = None


def evaluate_chunk(items: Sequence[WorkItem], engine: str = "oxigraph") -> list[Outcome]:
    """Read, validate and decide for each item; never raises. Items that cannot see each other
    (chunks.py) are validated and decided together, one run of each check and query for all; if
    a run fails, item by item, so that only the bad item records the error (one bad patient
    never stops a batch)."""
    outcomes: list[Outcome] = [Outcome() for _ in items]
    read: list[tuple[int, PatientInput]] = []
    for index, item in enumerate(items):
        try:
            read.append((index, item.read()))
        except Exception as error:  # any failure is this item's, never the batch's
            outcomes[index] = Outcome([_error_line(item, error)])
    for chunk in isolated_chunks([patient for _, patient in read]):
        for index, outcome in _evaluate_together([read[position] for position in chunk], items, engine):
            outcomes[index] = outcome
    return outcomes


def _evaluate_together(
    members: list[tuple[int, PatientInput]], items: Sequence[WorkItem], engine: str
) -> list[tuple[int, Outcome]]:
    try:
        reports = validate_chunk([patient for _, patient in members])
    except Exception as error:  # an input the validator cannot take: find which
        if len(members) == 1:
            return [(members[0][0], Outcome([_error_line(items[members[0][0]], error)]))]
        return [answer for member in members for answer in _evaluate_together([member], items, engine)]
    answers: list[tuple[int, Outcome]] = []
    conforming: list[tuple[int, PatientInput, Callable[[str], tuple[str, ...]]]] = []
    for (index, patient), report in zip(members, reports, strict=True):
        if report.conforms:
            conforming.append((index, patient, warnings_of(report)))
        else:
            source = items[index].source
            answers.append((index, Outcome([
                {"patient": p.patient, "source": source, "status": "does-not-conform", "problems": _violations(p)}
                for p in report.patients
                if not p.conforms
            ])))  # fmt: skip
    for index, patient, answer in _recommend(conforming, engine):
        if isinstance(answer, Exception):
            answers.append((index, Outcome([_error_line(items[index], answer)], patient=patient)))
        else:
            answers.append((index, Outcome(recommendations=answer, patient=patient)))
    return answers


def _recommend(
    conforming: list[tuple[int, PatientInput, Callable[[str], tuple[str, ...]]]], engine: str
) -> list[tuple[int, PatientInput, tuple[Recommendation, ...] | Exception]]:
    """Recommendations per item, all items in one store; if that fails (an input the engine
    cannot take), item by item, so that only the bad item records the error."""
    item_of = {patient_name(root): position for position, (_, patient, _) in enumerate(conforming)
               for root in patient.patients}  # fmt: skip
    try:
        recommendations = recommend_graphs(
            [patient for _, patient, _ in conforming], engine, lambda key: conforming[item_of[key]][2](key)
        )
    except Exception as error:  # as above
        if len(conforming) == 1:
            return [(conforming[0][0], conforming[0][1], error)]
        return [answer for member in conforming for answer in _recommend([member], engine)]
    by_item: list[list[Recommendation]] = [[] for _ in conforming]
    for recommendation in recommendations:
        by_item[item_of[recommendation.patient]].append(recommendation)
    return [(index, patient, tuple(found)) for (index, patient, _), found in zip(conforming, by_item, strict=True)]


def _error_line(item: WorkItem, error: Exception) -> dict[str, Any]:
    """A problem the user can fix in its own words; anything else named as what it is, so that
    it can be reported (never a traceback)."""
    known = isinstance(error, CmvrrError)
    message = str(error) if known else f"{item.source}: cannot be processed: {error_text(error)}"
    return {"patient": None, "source": item.source, "status": "error", "problems": [shown(message)]}


def _violations(patient: PatientReport) -> list[str]:
    return [
        f"{f.focus} {f.path}: {f.message}".replace("  ", " ") for f in patient.findings if f.severity == "Violation"
    ]


__all__ = ["Lines", "Outcome", "evaluate", "evaluate_chunk", "warnings_of"]
