"""Reports for people (text) and machines (JSON). Text groups by file and patient and says what
to fix; JSON carries the same findings."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, is_dataclass
from functools import cache
from operator import attrgetter
from typing import Any, get_args, get_origin, get_type_hints

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, XSD

from .checks.findings import FileReport
from .decisions.model import Measurement, Option, Recommendation, RefractoryStatus
from .errors import shown
from .terms import CMV_ONTOLOGY, CMVRR, named_patient

_MARK = {"Violation": "x", "Warning": "!", "Info": "i"}


def validation_json(reports: Sequence[FileReport]) -> str:
    return json.dumps(
        {
            "conforms": all(report.conforms for report in reports),
            "files": [
                {
                    "file": report.file,
                    "conforms": report.conforms,
                    "patients": [
                        {"patient": p.patient, "conforms": p.conforms, "findings": [asdict(f) for f in p.findings]}
                        for p in report.patients
                    ],
                }
                for report in reports
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def validation_text(reports: Sequence[FileReport]) -> str:
    lines = []
    for report in reports:
        lines.append(report.file)
        for patient in report.patients:
            counts = [
                f"{sum(f.severity == s for f in patient.findings)} {s.lower()}(s)" for s in ("Violation", "Warning")
            ]
            verdict = "conforms" if patient.conforms else "does NOT conform"
            lines.append(f"  patient {patient.patient}: {verdict} ({', '.join(counts)})")
            for finding in patient.findings:
                where = finding.focus + (f" {finding.path}" if finding.path else "")
                value = f" [value: {finding.value}]" if finding.value else ""
                lines.append(f"    {_MARK[finding.severity]} {where}: {finding.message}{value}")
    total = sum(len(report.patients) for report in reports)
    failing = sum(not patient.conforms for report in reports for patient in report.patients)
    lines.append(f"{total} patient(s) checked, {failing} do(es) not conform.")
    return "\n".join(map(shown, lines))


# ---- cmvrr recommend ------------------------------------------------------------------------


def asdict(value: Any) -> Any:
    """dataclasses.asdict without its deep copies (every value here is immutable already): each
    class's fields read by one attrgetter, and a field that holds only plain values (a text, a
    number, a tuple of texts: the class's type hints say which) taken as it is. The same result,
    many times faster, which batch mode feels."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    reader = _fields_reader(kind)  # type: ignore[arg-type]
    if reader is not None:
        names, read, flat = reader
        values = zip(names, read(value), flat, strict=True)
        return {name: item if plain or type(item) in _ATOMS else asdict(item) for name, item, plain in values}
    if isinstance(value, (tuple, list)):
        return kind([item if type(item) in _ATOMS else asdict(item) for item in value])
    if isinstance(value, dict):
        return {key: asdict(item) for key, item in value.items()}
    return value


_ATOMS = frozenset({str, int, float, bool, type(None)})


@cache
def _fields_reader(
    kind: type,
) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]], tuple[bool, ...]] | None:
    """A dataclass's field names, one call that reads them all (attrgetter of several names
    gives a tuple; of one name, the bare value; of none, an error), and which fields are plain."""
    if not is_dataclass(kind):
        return None
    names = tuple(field.name for field in fields(kind))
    read = attrgetter(*names) if len(names) > 1 else (lambda value: tuple(getattr(value, name) for name in names))
    try:
        hints = get_type_hints(kind)
    except NameError:  # a hint named only for type checkers: every field is looked at
        hints = {}
    return names, read, tuple(_plain(hints.get(name)) for name in names)


def _plain(hint: object) -> bool:
    """A type whose values asdict returns as they are: atoms, literals, their unions, tuples of them."""
    if hint in _ATOMS:
        return True
    origin, arguments = get_origin(hint), get_args(hint)
    if origin is typing.Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(map(_plain, arguments))
    return origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis and _plain(arguments[0])


def _course_dict(course: RefractoryStatus) -> dict[str, Any]:
    return {
        "drug": course.course_drug,
        "start": course.course_start,
        "status": course.status,
        "reason": course.reason,
        "baseline": asdict(course.baseline) if course.baseline else None,
        "follow_up": asdict(course.follow_up) if course.follow_up else None,
        "ratio": course.ratio,
        "failed_to_decline_1_log10": course.failed_to_decline,
        "dose_checked": course.dose_checked,
        "dose": {"mg_per_kg": course.dose_mg_per_kg, "mg": course.dose_mg, "interval_h": course.interval_h},
        "failed_to_decline_on": course.failure_date,
    }


def recommendation_dict(rec: Recommendation) -> dict[str, Any]:
    """The JSON shape of a recommendation (README, JSON output): stable keys, therapy names as the knowledge graph's."""
    refractory = rec.refractory
    return {
        "patient": rec.patient,
        "susceptibility": {drug: asdict(value) for drug, value in sorted(rec.susceptibility.items())},
        "uncertain_mutations": list(rec.uncertain_mutations),
        "refractory": {
            "status": refractory.status,
            "reason": refractory.reason,
            "course": {"drug": refractory.course_drug, "start": refractory.course_start},
            "evidence": {
                "baseline": asdict(refractory.baseline) if refractory.baseline else None,
                "follow_up": asdict(refractory.follow_up) if refractory.follow_up else None,
                "ratio": refractory.ratio,
                "failed_to_decline_1_log10": refractory.failed_to_decline,
            },
            "courses": [_course_dict(course) for course in rec.courses],
        },
        "genotype_testing": asdict(rec.genotype_testing),
        "genotype_history": [asdict(result) for result in rec.genotype_history],
        "table4_rows": list(rec.table4_rows),
        "infection_state": rec.infection_state,
        "infection_state_rests_on": [asdict(load) for load in rec.infection_basis],
        "stop": [asdict(stop) for stop in rec.stop],
        "options": [asdict(option) for option in rec.options],
        "excluded": [asdict(exclusion) for exclusion in rec.excluded],
        "plan_notes": list(rec.plan_notes),
        "advice": [asdict(advice) for advice in rec.advice],
        "warnings": list(rec.warnings),
    }


def recommendations_json(recs: Sequence[Recommendation]) -> str:
    data: Any = [recommendation_dict(rec) for rec in recs]
    return json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False)


def _regimen_text(option: Option) -> str:
    regimen = option.regimen
    if regimen is None:
        return ""
    if regimen.min_mg_per_kg is not None:
        span = f"{regimen.min_mg_per_kg:g}" + (
            f"-{regimen.max_mg_per_kg:g}" if regimen.max_mg_per_kg != regimen.min_mg_per_kg else ""
        )
        dose = f"{span} mg/kg"
    else:
        dose = f"{regimen.dose_mg:g} mg"
    return f" {dose} every {regimen.interval_h:g} h" if regimen.interval_h else f" {dose}"


_STATE = {
    "active": "active resistant or refractory CMV infection: treatment plan",
    "controlled": "controlled infection (FAQ13): no treatment plan; stop criterion and secondary prophylaxis",
    "prophylaxis-low-level": "low-level DNAemia on letermovir prophylaxis (FAQ6): no R/R treatment plan",
    "not-rr": "no resistant or refractory infection shown: no R/R treatment plan",
}
_ROLE = {"do": "DO", "alternative": "OR", "next": "NEXT", "consider": "CONSIDER", "conditional": "ONLY IF"}
DISCLAIMER = (
    "cmv-rr is a research and informatics tool, not a medical device; its output does not replace "
    "clinical judgement."
)


def _plan_lines(rec: Recommendation) -> list[str]:
    """What a clinician acts on: what to stop, what to do, what to avoid, each with its reason."""
    lines = [f"Plan: {_STATE[rec.infection_state]}"]
    for stop in rec.stop:
        lines.append(f"  STOP      {stop.therapy}")
        lines += [f"              because {reason}" for reason in stop.reasons]
    for option in rec.options:
        grade = f" [{', '.join(sorted(set(option.grade)))}]" if option.grade else ""
        condition = f" (only if: {option.condition.replace('-', ' ')})" if option.condition else ""
        label = _ROLE[option.role]
        lines.append(
            f"  {label:<9} {option.rank}. {option.action} {option.therapy}{_regimen_text(option)}{condition}{grade}"
        )
        lines += [f"              because {reason}" for reason in option.reasons]
    for exclusion in rec.excluded:
        lines.append(f"  AVOID     {exclusion.therapy}")
        lines += [f"              because {reason}" for reason in exclusion.reasons]
    lines += [f"  NOTE      {note}" for note in rec.plan_notes]
    return lines


_REASON = {
    "no-baseline": "no viral load near the start",
    "stale-baseline": "no baseline near the start (7 days before to 3 after): only older loads",
    "dose-below-guideline": "dose below the guideline's treatment dose: not appropriately dosed (FAQ1)",
    "too-early": "too early: less than 2 weeks of therapy (FAQ1); repeat the load at 2 weeks",
    "no-follow-up": "no load of the same specimen type after 2 weeks on this course",
    "different-specimens": "plasma and whole blood are not comparable: repeat on the baseline's specimen type",
    "different-assays": "different assays or laboratories (FAQ1): repeat on the baseline's assay",
    "baseline-undetectable": "the baseline load was undetectable",
    "no-treatment-course": "no treatment course in the record",
}
_VERDICT = {
    "indicated": "send a genotype now",
    "consult-id": "consult an infectious-diseases specialist on resistance testing (FAQ6 B-III)",
    "repeat-when-1000": "not yet: plasma load below the threshold",
    "done": "done",
    "not-indicated": "not indicated now",
}


def _load_text(load: Measurement) -> str:
    where = ", ".join(filter(None, (load.specimen, load.assay))) or "specimen and assay not stated"
    return f"{load.iu_per_ml:g} IU/mL on {load.date} ({where})"


def _course_lines(course: RefractoryStatus) -> list[str]:
    status = course.status + (f": {_REASON.get(course.reason, course.reason)}" if course.reason else "")
    dose = f" {course.dose_text}" if course.dose_text else ""
    lines = [f"  {course.course_drug}{dose} from {course.course_start}: {status}"]
    for label, load in (("start", course.baseline), ("after 2 weeks", course.follow_up)):
        if load:
            lines.append(f"      {label:<14}{_load_text(load)}")
    if course.ratio is not None:
        # A rise across assays is not a FAQ1 rise, but it must not vanish: shown as a jump.
        across = " across assays, not comparable" if course.reason == "different-assays" else ""
        lines.append(f"      {'change':<14}x{course.ratio:.3g}{across} (more than 1 log10 is above x10)")
    if course.failure_date and (course.follow_up is None or course.follow_up.date != course.failure_date):
        trigger = f"not fallen by more than 1 log10 on {course.failure_date} (it persists)"
        lines.append(f"      {'FAQ6 trigger':<14}{trigger}")
    if not course.dose_checked and course.reason != "dose-below-guideline":
        lines.append(f"      {'dose':<14}not checked: the guideline states no treatment dose for {course.course_drug}")
    return lines


def _timeline_lines(rec: Recommendation) -> list[str]:
    """The courses each status rests on (FAQ1), the genotype verdict (FAQ6) and history (FAQ15)."""
    ref = rec.refractory
    rests_on = f", from the {ref.course_drug} course of {ref.course_start}" if ref.course_drug else ""
    if not ref.course_drug and ref.reason:
        rests_on = f": {_REASON.get(ref.reason, ref.reason)}"
    lines = ["", f"Refractory status (FAQ1): {ref.status}{rests_on}"]
    for course in rec.courses:
        lines += _course_lines(course)
    basis = "; ".join(f"{load.iu_per_ml:g} IU/mL on {load.date}" for load in rec.infection_basis)
    lines += ["", f"Infection state: {rec.infection_state}" + (f" (latest loads: {basis})" if basis else "")]
    testing = rec.genotype_testing
    since = f" (a test on or after the trigger of {testing.trigger_date})" if testing.verdict == "done" else ""
    lines += ["", f"Genotype testing (FAQ6): {_VERDICT[testing.verdict]}{since}"]
    lines += [f"  - {reason}" for reason in testing.reasons]
    if rec.genotype_history:
        lines += ["", "Genotype history"]
    for result in rec.genotype_history:
        load = f", {result.viral_load:g} IU/mL" if result.viral_load is not None else ""
        specimen = result.specimen or "specimen not stated"
        genes = [f"{gene} codons {result.coverage[gene]}" if gene in result.coverage else gene
                 for gene in result.genes_tested]  # fmt: skip
        lines.append(f"  {result.date} {specimen} ({', '.join(genes)}{load})")
        if result.note:
            lines.append(f"      {result.note}")
        for mutation in result.mutations:
            fraction = f" at {mutation.variant_fraction:g}%" if mutation.variant_fraction is not None else ""
            lines.append(f"      {mutation.mutation}{fraction}: {mutation.note}")
    return lines


def recommendations_text(recs: Sequence[Recommendation]) -> str:
    lines: list[str] = []
    for rec in recs:
        lines += [f"Patient {rec.patient}", ""]
        lines += _plan_lines(rec)
        lines += ["", "Evidence", "", "Susceptibility (Table 5; HerpesDRG where Table 5 is silent)"]
        for drug, value in sorted(rec.susceptibility.items()):
            found = f": {', '.join(value.mutations)}" if value.mutations else ""
            lines.append(f"  {drug:<15} {value.status}{found}")
            lines.append(f"  {'':<15} {value.note}")
        for mutation in rec.uncertain_mutations:
            lines.append(
                f"  uncertain significance: {mutation['mutation']} (reported as {mutation['reported']}): not in Table 5"
            )
        lines += _timeline_lines(rec)
        rows = ", ".join(map(str, rec.table4_rows)) or "none"
        lines += ["", f"Table 4 rows that apply: {rows}"]
        lines += ["", "General advice"]
        for advice in rec.advice:
            lines.append(f"  [{advice.grade}] {advice.text}")
        if rec.warnings:
            lines += ["", "Warnings"] + [f"  ! {warning}" for warning in rec.warnings]
        lines += ["", DISCLAIMER, ""]
    return "\n".join(map(shown, lines))


class _Findings:
    """Writes one patient's derived findings, each with PROV-O links to what it rests on."""

    def __init__(self, graph: Graph, patient_id: str) -> None:
        self.graph, self.patient = graph, named_patient(patient_id)
        self.run = URIRef(f"{self.patient}/recommendation")
        graph.add((self.run, RDF.type, PROV.Activity))
        graph.add((self.run, RDFS.label, Literal(f"cmvrr recommend for patient {patient_id}", lang="en")))
        graph.add((self.run, PROV.used, self.patient))
        graph.add((self.run, PROV.used, CMV_ONTOLOGY))

    def add(
        self, path: str, kind: str, value: str, therapy: str | None, sources: Iterable[str], reasons: Iterable[str]
    ) -> URIRef:
        graph, node = self.graph, URIRef(f"{self.patient}/finding/{path}")
        graph.add((node, RDF.type, CMVRR.DerivedFinding))
        graph.add((node, RDFS.label, Literal(f"{kind}: {value}" + (f" ({therapy})" if therapy else ""), lang="en")))
        graph.add((node, CMVRR.aboutPatient, self.patient))
        graph.add((node, CMVRR.findingKind, Literal(kind, datatype=XSD.string)))
        graph.add((node, CMVRR.findingValue, Literal(value, datatype=XSD.string)))
        graph.add((node, PROV.wasGeneratedBy, self.run))
        if therapy:
            graph.add((node, CMVRR.aboutTherapy, CMVRR[therapy]))
        for source in sources:
            graph.add((node, PROV.wasDerivedFrom, URIRef(source) if "://" in source else CMVRR[source]))
        for reason in reasons:
            graph.add((node, CMVRR.findingReason, Literal(reason, lang="en")))
        return node


def recommendations_turtle(recs: Sequence[Recommendation]) -> str:
    """Derived facts with PROV-O links to the knowledge-graph facts and measurements behind them."""
    return recommendations_graph(recs).serialize(format="turtle")


def recommendations_graph(recs: Sequence[Recommendation]) -> Graph:
    """recommendations_turtle's graph (cmvrr load-cohort stores it without a Turtle round trip)."""
    graph = Graph(store="SimpleMemory")
    graph.bind("cmvrr", CMVRR)
    graph.bind("prov", PROV)
    for rec in recs:
        findings = _Findings(graph, rec.patient)
        for drug, value in sorted(rec.susceptibility.items()):
            findings.add(f"susceptibility/{drug}", "susceptibility", value.status, drug, value.assertions, [value.note])
        ref = rec.refractory
        reasons = [ref.reason] if ref.reason else []
        findings.add("refractory", "refractory-status", ref.status, ref.course_drug, ref.evidence_nodes, reasons)
        testing = rec.genotype_testing
        findings.add("genotype-testing", "genotype-testing", testing.verdict, None, [], testing.reasons)
        for number in rec.table4_rows:
            findings.add(f"table4-row/{number}", "table4-row", str(number), None, [f"table4-row-{number}"], [])
        for option in rec.options:
            sources = [option.option, *option.statements]
            node = findings.add(
                f"option/{option.rank}", "offered-option", option.action, option.therapy, sources, option.reasons
            )
            graph.add((node, CMVRR.findingRank, Literal(option.rank, datatype=XSD.integer)))
        for index, exclusion in enumerate(rec.excluded, start=1):
            findings.add(
                f"excluded/{index}",
                "excluded-option",
                "excluded",
                exclusion.therapy,
                exclusion.sources,
                exclusion.reasons,
            )
        for advice in rec.advice:
            findings.add(f"advice/{advice.statement}", "advice", advice.grade, None, [advice.statement], [advice.text])
    return graph


__all__ = [
    "asdict",
    "recommendation_dict",
    "recommendations_graph",
    "recommendations_json",
    "recommendations_text",
    "recommendations_turtle",
    "validation_json",
    "validation_text",
]
