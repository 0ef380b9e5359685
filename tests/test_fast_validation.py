"""The fast validator (patient shapes compiled to SPARQL, run in Oxigraph) reports exactly what
pyshacl reports: on every fixture and on thousands of generated patients with injected faults
(the faster validator is the default only if the tests prove this)."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph, URIRef

from kg_builder.checks.findings import Finding
from kg_builder.checks.validate import shacl_findings as _shacl_findings
from kg_builder.checks.validate import validate_input
from kg_builder.commands.synth import synthetic_patients
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import PatientInput, read_patient_file
from kg_builder.patients.record import add_record as _add_record
from kg_builder.terms import CMVRR

PATIENTS = int(os.environ.get("CMVRR_EQUIVALENCE_PATIENTS", "1000"))
BATCH = 100
FIXTURES = sorted(
    p for p in EXAMPLES_DIR.rglob("*") if p.suffix in (".json", ".ttl")
)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_reports_are_the_same(path: object) -> None:
    item = read_patient_file(path)  # type: ignore[arg-type]
    reference, fast = validate_input(item, validator="pyshacl"), validate_input(item, validator="oxigraph")
    assert [(p.patient, p.findings) for p in fast.patients] == [(p.patient, p.findings) for p in reference.patients]


# An unknown drug, an unknown reason, no reason: intolerance entries the shapes must reject.
INTOLERANCE_FAULTS = [{"drug": "foscarnett", "reason": "nephrotoxicity"}, {"drug": "cidofovir", "reason": "rash"},
                      {"drug": "cidofovir"}]  # fmt: skip


def _corrupt(record: dict[str, Any], rng: random.Random) -> None:
    """Inject 0-3 faults the shapes must catch (schema checks are bypassed on purpose)."""
    faults = [
        lambda: record["viral_loads"][0].update(iu_per_ml=-rng.randint(1, 10**6)),
        lambda: record["viral_loads"][1].update(date="2025-02-30"),
        lambda: record["viral_loads"][1].update(assay="another lab"),
        lambda: record["antivirals"][1].update(end="2024-01-01"),
        lambda: record["antivirals"][1].update(dose_mg_per_kg=rng.choice([0, 350, 5000])),
        lambda: record["antivirals"][1].update(drug=rng.choice(["gancyclovir", "acyclovir"])),
        lambda: record["antivirals"][1].update(interval_h=rng.choice([0, 500])),
        lambda: record.update(age_years=rng.choice([150, -2])),
        lambda: record["host_factors"].update(steroid_mg_per_kg_per_day=20),
        lambda: record["transplant"].update(donor="sibling"),
        lambda: record.update(disease_sites=["brain"]),
        lambda: record.setdefault(
            "genotype_tests", [{"date": "2025-03-01", "genes_tested": ["UL97"], "mutations": []}]
        ),
        lambda: record.setdefault("intolerance", []).append(dict(rng.choice(INTOLERANCE_FAULTS))),
    ]
    mutation_faults = ["UL97:C892G", "UL97:A592G", "UL99:C592G", "UL54:Q9999R", "UL27:W362R", "UL56:C325Y",
                       {"mutation": "UL97:C592G", "variant_fraction": 140}, "UL97:A140V"]  # fmt: skip
    for fault in rng.sample(faults, k=rng.randint(0, 3)):
        fault()
    tests = record.get("genotype_tests")
    if tests and rng.random() < 0.6:
        tests[0]["mutations"] = list(tests[0].get("mutations", [])) + rng.sample(mutation_faults, k=rng.randint(1, 2))
        tests[0]["genes_tested"] = rng.choice([tests[0]["genes_tested"], [], ["UL56"], ["UL97", "XX1"]])
        tests[0]["viral_load_iu_per_ml"] = rng.choice([50, 420, 5000, -1])


def _by_focus(findings: list[tuple[str, Finding]]) -> dict[str, set[Finding]]:
    """Results per focus node, as a set: a SHACL engine may repeat a result (reports do not)."""
    grouped: dict[str, set[Finding]] = defaultdict(set)
    for focus, finding in findings:
        grouped[focus].add(finding)
    return dict(grouped)


@pytest.mark.parametrize("batch", range(PATIENTS // BATCH))
def test_generated_patients_get_the_same_results(batch: int) -> None:
    rng = random.Random(batch)
    graph = Graph()
    for number, record in enumerate(synthetic_patients(BATCH, seed=1000 + batch)):
        record["id"] = f"EQ-{batch}-{number}"
        _corrupt(record, rng)
        list(_add_record(graph, record))
        if rng.random() < 0.1:  # a measurement without its date, as Turtle input may have it
            node = URIRef(f"https://w3id.org/cmv-rr/patient/{record['id']}/viral-load/2")
            graph.remove((node, CMVRR.measuredOn, None))
    item = PatientInput(Path("<graph>"), graph)
    reference = _by_focus(list(_shacl_findings(item, "pyshacl")))
    fast = _by_focus(list(_shacl_findings(item, "oxigraph")))
    assert fast == reference
    assert sum(len(items) for items in reference.values()) > BATCH / 2, "the faults must make the shapes speak"
