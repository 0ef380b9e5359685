"""Chunked evaluation (batches of 100,000 patients): many patients validated and decided in one
store give each patient exactly the answer of a run of its own."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF
from test_fast_validation import _corrupt

from kg_builder.checks.chunks import CHUNK_SIZE, isolated_chunks
from kg_builder.checks.validate import validate_input, validate_inputs
from kg_builder.commands.synth import synthetic_patients
from kg_builder.decisions.decide import prepare, recommend_graph, recommend_graphs
from kg_builder.decisions.engines import query_text, with_values
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import PatientInput, read_patient_file, read_patient_text
from kg_builder.patients.record import add_record as _add_record
from kg_builder.terms import CMVRR, patient_graph_iri

CASES = sorted((EXAMPLES_DIR / "cases").glob("*.json"))


def _record_graph(record: dict[str, Any]) -> Graph:
    graph = Graph()
    list(_add_record(graph, record))
    return graph


def _chunks(graphs: list[Graph], size: int = CHUNK_SIZE) -> list[list[int]]:
    return isolated_chunks([PatientInput(Path("<graph>"), graph) for graph in graphs], size)


def _patient(identifier: str) -> Graph:
    return _record_graph({"id": identifier})


# --- which inputs may share a store -------------------------------------------------------------


def test_distinct_patients_share_one_chunk_up_to_the_size() -> None:
    graphs = [_patient(f"P{number}") for number in range(7)]
    assert _chunks(graphs, size=3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_the_same_patient_twice_starts_a_new_chunk() -> None:
    graphs = [_patient("A"), _patient("B"), _patient("A")]
    assert _chunks(graphs) == [[0, 1], [2]]


def test_a_patient_nested_under_another_starts_a_new_chunk() -> None:
    assert _chunks([_patient("A"), _patient("A/visit")]) == [[0], [1]]


def test_blank_nodes_are_run_alone() -> None:
    odd = _patient("C")
    odd.add((URIRef("https://w3id.org/cmv-rr/patient/C"), CMVRR.hasHostFactors, BNode()))
    assert _chunks([_patient("A"), odd, _patient("B")]) == [[0], [1], [2]]


def test_a_shared_node_described_differently_starts_a_new_chunk() -> None:
    """Two inputs naming UL97 C592G must describe it alike (as JSON input always does); a Turtle
    input that gives it another position would otherwise leak into the other's validation."""

    def detected(identifier: str) -> Graph:
        test = {"date": "2025-01-01", "genes_tested": ["UL97"], "mutations": ["UL97:C592G"]}
        return _record_graph({"id": identifier, "genotype_tests": [test]})

    other = detected("C")
    other.set((CMVRR.UL97_C592G, CMVRR.aminoAcidPosition, Literal(9999)))
    assert _chunks([detected("A"), detected("B")]) == [[0, 1]]
    assert _chunks([detected("A"), other]) == [[0], [1]]


def test_an_input_naming_another_patients_node_starts_a_new_chunk() -> None:
    meddling = _patient("B")
    meddling.add((URIRef("https://w3id.org/cmv-rr/patient/B"), CMVRR.hasViralLoad,
                  URIRef("https://w3id.org/cmv-rr/patient/A/viral-load/1")))  # fmt: skip
    assert _chunks([_patient("A"), meddling]) == [[0], [1]]
    assert _chunks([meddling, _patient("A")]) == [[0], [1]]


# --- validation -----------------------------------------------------------------------------------


def _inputs(count: int, seed: int) -> list[PatientInput]:
    rng = random.Random(seed)
    items = []
    for number, record in enumerate(synthetic_patients(count, seed=seed)):
        record["id"] = f"CH-{seed}-{number % (count - 3)}"  # the last three repeat earlier patients
        _corrupt(record, rng)
        items.append(PatientInput(Path(f"{number}.json"), _record_graph(record)))
    return items


@pytest.mark.parametrize("seed", range(4))
def test_chunked_validation_equals_one_run_per_input(seed: int) -> None:
    items = _inputs(120, seed)
    items += [read_patient_file(path) for path in sorted(EXAMPLES_DIR.rglob("*")) if path.suffix in (".json", ".ttl")]
    rng = random.Random(seed)
    rng.shuffle(items)
    chunked = validate_inputs(items)
    single = [validate_input(item) for item in items]
    assert chunked == single
    assert sum(not report.conforms for report in single) > 20, "the faults must make the shapes speak"


# --- decisions ------------------------------------------------------------------------------------

PATIENT_QUERIES = {
    "resistance-findings": {},
    "uncertain-mutations": {},
    "drug-genes": {},
    "susceptibility": {},
    "refractory": {},
    "genotype-testing": {"failedToDecline": [True, False], "triggerDay": [0, 20100, 20200]},
    "table4-rows": {"refractory": [True, False]},
    "exclusions": {},
    "current-courses": {},
    "infection-state": {},
    "advice": {},
}


@pytest.mark.parametrize("engine_name", ["oxigraph", "rdflib"])
def test_every_decision_query_answers_many_patients_as_it_answers_each(engine_name: str) -> None:
    """One run with a VALUES row per patient (inputs varying by patient) gives each patient the
    rows of a run bound to that patient alone, in the same store: no query lets one patient's
    facts reach another's answer."""
    # rdflib answers one patient in about half a second per query: every fourth worked case there,
    # all of them on oxigraph (the property is the same; the cost is not).
    count, cases = (40, CASES) if engine_name == "oxigraph" else (12, CASES[::4])
    graphs = [read_patient_file(path).graph for path in cases]
    graphs += [read_patient_text(json.dumps(r), Path("s.json")).graph for r in synthetic_patients(count, seed=5)]
    engine, patients = prepare(graphs, engine_name)
    try:
        for name, choices in PATIENT_QUERIES.items():
            names = sorted(choices)
            inputs = {p: {key: Literal(choices[key][n % len(choices[key])]) for key in names}
                      for n, p in enumerate(patients)}  # fmt: skip
            rows = [(p, patient_graph_iri(p), *(inputs[p][key] for key in names)) for p in patients]
            together = engine.select(with_values(query_text(name), ["patient", "patientGraph", *names], rows), {})
            for patient in patients:
                alone = engine.select(query_text(name), {"patient": patient, "patientGraph": patient_graph_iri(patient),
                                                         **inputs[patient]})  # fmt: skip
                mine = [row for row in together if row["patient"] == str(patient)]
                assert sorted(map(str, mine)) == sorted(map(str, alone)), (name, patient)
    finally:
        engine.close()


def test_recommendations_for_many_graphs_equal_one_graph_at_a_time() -> None:
    graphs = [read_patient_file(path).graph for path in CASES]
    graphs += [read_patient_text(json.dumps(r), Path("s.json")).graph for r in synthetic_patients(150, seed=8)]
    together = recommend_graphs(graphs)  # in patient order
    one_at_a_time = [recommendation for graph in graphs for recommendation in recommend_graph(graph)]
    assert together == sorted(one_at_a_time, key=lambda r: r.patient)
    assert len({r.patient for r in together}) == len(graphs)


def test_the_same_patient_in_two_graphs_is_refused() -> None:
    from kg_builder.errors import CmvrrError

    with pytest.raises(CmvrrError, match="same patient in two inputs"):
        recommend_graphs([_patient("A"), _patient("A")])


def test_multi_patient_files_keep_each_patient_apart() -> None:
    graph = _patient("A") + _patient("B")
    assert sorted(str(s) for s in graph.subjects(RDF.type, CMVRR.Patient)) == [
        "https://w3id.org/cmv-rr/patient/A",
        "https://w3id.org/cmv-rr/patient/B",
    ]
    assert [r.patient for r in recommend_graphs([graph])] == ["A", "B"]


def test_validating_many_files_at_once_gives_each_its_own_report(merlin_proteins: dict[str, str]) -> None:
    """cmvrr validate over every fixture (and the --reference FASTA check) reports for each file
    what validating that file alone reports."""
    from kg_builder.checks.validate import validate_files

    fasta = {gene.upper(): sequence for gene, sequence in merlin_proteins.items()}
    files = sorted(p for p in EXAMPLES_DIR.rglob("*") if p.suffix in (".json", ".ttl") and ".expected" not in p.name)
    assert validate_files(files, fasta) == [validate_files([path], fasta)[0] for path in files]
