"""Four engines, one answer: every packaged query gives the same results on Apache Jena ARQ
(Debian's libapache-jena-java 4.5), pyoxigraph and rdflib over the same dataset (the HTTP endpoint
is the fourth, tests/test_serve.py). CI installs Jena (.ci/run), so this never skips there."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph
import pytest
from conftest import need_on_ci
from jena import arq, available
from portability import (
    CNS_PATIENT,
    CNS_PATIENT_FILE,
    CODON_PATIENT,
    CODON_PATIENT_FILE,
    PATIENT,
    PATIENT_FILE,
    canonical,
    json_rows,
    values_clause,
)
from rdflib import Dataset, Graph, URIRef

from kg_builder.decisions.decide import recommend_graph
from kg_builder.decisions.engines import ox_lexical as _ox_lexical
from kg_builder.decisions.engines import query_text, with_day_numbers
from kg_builder.knowledge.graph import knowledge
from kg_builder.knowledge.herpesdrg import evidence_graph
from kg_builder.paths import QUERIES_DIR
from kg_builder.patients.readers import read_patient_file
from kg_builder.report import recommendations_turtle
from kg_builder.terms import HERPESDRG_GRAPH, KNOWLEDGE_GRAPH, patient_graph_iri

need_on_ci(available(), "no Apache Jena: apt-get install libapache-jena-java (.ci/run does)", module=True)

NAMES = sorted(path.stem for path in QUERIES_DIR.glob("*.rq"))


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The knowledge graph (default and named graph), HerpesDRG's graph, the patients' graphs and
    the example's findings."""
    patient = read_patient_file(PATIENT_FILE).graph
    cns_patient = read_patient_file(CNS_PATIENT_FILE).graph
    codon_patient = read_patient_file(CODON_PATIENT_FILE).graph
    findings = Graph().parse(data=recommendations_turtle(recommend_graph(patient)), format="turtle")
    dataset = Dataset()
    for name, graph in ((None, knowledge()), (KNOWLEDGE_GRAPH, knowledge()),
                        (patient_graph_iri(PATIENT), with_day_numbers(patient)),
                        (patient_graph_iri(CNS_PATIENT), with_day_numbers(cns_patient)),
                        (patient_graph_iri(CODON_PATIENT), with_day_numbers(codon_patient)),
                        (HERPESDRG_GRAPH, evidence_graph()),
                        (URIRef(f"{PATIENT}/findings"), findings)):  # fmt: skip
        target = dataset.default_graph if name is None else dataset.graph(name)
        for triple in graph:
            target.add(triple)
    path = tmp_path_factory.mktemp("jena") / "dataset.nq"
    path.write_text(dataset.serialize(format="nquads"))
    return path


@pytest.fixture(scope="module")
def jena_answers(dataset_file: Path) -> dict[str, list[dict[str, str | None]]]:
    """All queries on ARQ, two JVMs at a time (each call costs about 2 s of JVM start)."""
    folder = dataset_file.parent

    def run(name: str) -> tuple[str, list[dict[str, str | None]]]:
        query = folder / f"{name}.rq"
        query.write_text(values_clause(query_text(name), name))
        return name, json_rows(json.loads(arq(folder / name, dataset_file, query)))

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, NAMES))


def oxigraph_answer(dataset_file: Path, text: str) -> list[dict[str, str | None]]:
    store = pyoxigraph.Store()
    store.load(path=str(dataset_file), format=pyoxigraph.RdfFormat.N_QUADS)
    solutions = store.query(text)
    names = [variable.value for variable in solutions.variables]  # type: ignore[union-attr]
    return [{name: _ox_lexical(solution[name]) for name in names} for solution in solutions]  # type: ignore[union-attr]


def rdflib_answer(dataset_file: Path, text: str) -> list[dict[str, str | None]]:
    dataset = Dataset()
    dataset.parse(dataset_file, format="nquads")
    result = dataset.query(text)
    return [
        {str(var): (str(row[var]) if row[var] is not None else None) for var in result.vars or []} for row in result
    ]  # type: ignore[index, call-overload]


@pytest.mark.parametrize("name", NAMES)
def test_jena_oxigraph_and_rdflib_agree(
    name: str, dataset_file: Path, jena_answers: dict[str, list[dict[str, str | None]]]
) -> None:
    text = values_clause(query_text(name), name)
    expected = canonical(oxigraph_answer(dataset_file, text))
    assert canonical(jena_answers[name]) == expected, "Jena ARQ"
    assert canonical(rdflib_answer(dataset_file, text)) == expected, "rdflib"
    # Empty on this example by nature: no unknown variant, exclusion or refractory case without resistance.
    empty_here = {
        "uncertain-mutations",
        "exclusions",
        "cohort-refractory-without-resistance",
        "cohort-genotype-not-done",
    }
    if name not in empty_here:
        assert expected, f"{name} answers nothing on the example: the agreement would be empty"
