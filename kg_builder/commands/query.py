"""Run any packaged or user query (cmvrr query), binding the patient where the query asks for it."""

from __future__ import annotations

import re
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from ..decisions.decide import DERIVED_INPUTS, derived_inputs
from ..decisions.engines import ENGINES, Row, ox_lexical, patient_ntriples, refuse_federation
from ..errors import CmvrrError
from ..paths import QUERIES_DIR, query_path
from ..terms import CMVRR, patient_graph_iri

_PROJECTION = re.compile(r"\bSELECT\b(.*?)\bWHERE\b", re.S | re.I)


def read_query(name: str) -> str:
    path = Path(name) if name.endswith(".rq") and Path(name).exists() else query_path(name)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in QUERIES_DIR.glob("*.rq")))
        raise CmvrrError(f"no query {name!r}: give a .rq file or one of {known}")
    text = path.read_text(encoding="utf-8")
    refuse_federation(text, str(path))
    return text


def run_query(name: str, patient: Graph | None = None, engine_name: str = "oxigraph") -> tuple[list[str], list[Row]]:
    """Columns and rows of one query; a patient graph goes into its own named graph."""
    text = read_query(name)
    patients = sorted(URIRef(str(p)) for p in patient.subjects(RDF.type, CMVRR.Patient)) if patient else []
    if patient is not None and len(patients) != 1:
        raise CmvrrError(f"the patient file must describe exactly one cmvrr:Patient (it describes {len(patients)})")
    graphs = {patient_graph_iri(p): patient_ntriples(patient) for p in patients} if patient is not None else {}
    engine = ENGINES[engine_name](graphs, whole_evidence=True)  # source-conflicts.rq reads the measurements
    # The patient leaves the shared store whatever happens: left there, it would be merged into
    # the next recommendation for the same patient IRI in this process.
    try:
        projection = _PROJECTION.search(text)
        selected = set(re.findall(r"\?(\w+)", projection.group(1))) if projection else set()
        # The inputs recommend feeds from earlier answers (?refractory, ?failedToDecline,
        # ?triggerDay), so that a packaged query gives here the answer recommend gives; only those
        # the query declares as input (refractory.rq also *outputs* ?failedToDecline).
        needs = selected & ({"patient", "patientGraph"} | (set(DERIVED_INPUTS) & _declared_inputs(text)))
        bindings: dict[str, Node] = {}
        if patients:
            derived = derived_inputs(engine, patients)[str(patients[0])] if needs & set(DERIVED_INPUTS) else {}
            available = {"patient": patients[0], "patientGraph": patient_graph_iri(patients[0]), **derived}
            bindings = {name: value for name, value in available.items() if name in needs}
        elif needs:
            inputs = ", ".join("?" + need for need in sorted(needs))
            raise CmvrrError(
                f"query {name!r} takes the patient's inputs ({inputs}): give --patient FILE "
                "(the inputs recommend derives are bound as recommend binds them)"
            )
        try:
            rows = engine.select(text, bindings)
        except (SyntaxError, ValueError, RuntimeError) as error:
            raise CmvrrError(
                f"query {name!r} failed: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
            ) from error
    finally:
        engine.close()
    columns = (
        list(rows[0])
        if rows
        else [column for column in re.findall(r"\?(\w+)", projection.group(1))]
        if projection
        else []
    )
    return columns, rows


def query_header(text: str) -> dict[str, str]:
    """The first line of each field of a query's header comment ("# Purpose: ...",
    "# Input bindings: ..."): what the packaged queries state about themselves."""
    header: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith("#"):
            break
        key, _, value = line[1:].strip().partition(":")
        if key in ("Purpose", "Input bindings") and value and key not in header:
            header[key] = value.strip()
    return header


def _declared_inputs(text: str) -> set[str]:
    """The variables a query's "# Input bindings:" header line names."""
    return set(re.findall(r"\?(\w+)", query_header(text).get("Input bindings", "")))


def run_store_query(name: str, location: Path) -> tuple[list[str], list[Row]]:
    """A query over an on-disk cohort store (cmvrr load-cohort), opened read-only."""
    import pyoxigraph


    if not location.is_dir():
        raise CmvrrError(f"{location}: no cohort store here (make one with cmvrr load-cohort)")
    text = read_query(name)
    try:
        store = pyoxigraph.Store.read_only(str(location))
        solutions = store.query(text)
    except (OSError, SyntaxError, ValueError, RuntimeError) as error:
        raise CmvrrError(f"query {name!r} over {location} failed: {str(error).splitlines()[0]}") from error
    if not isinstance(solutions, pyoxigraph.QuerySolutions):
        raise CmvrrError(f"query {name!r} is not a SELECT query")
    columns = [variable.value for variable in solutions.variables]
    return columns, [{column: ox_lexical(solution[column]) for column in columns} for solution in solutions]


def query_list() -> list[dict[str, str]]:
    """The packaged queries with the purpose and the inputs their headers state."""
    listed = []
    for path in sorted(QUERIES_DIR.glob("*.rq")):
        header = query_header(path.read_text(encoding="utf-8"))
        purpose, inputs = header.get("Purpose", ""), header.get("Input bindings", "")
        listed.append({"name": path.stem, "purpose": purpose, "inputs": inputs})
    return listed


__all__ = [
    "query_header",
    "query_list",
    "read_query",
    "run_query",
    "run_store_query",
]
