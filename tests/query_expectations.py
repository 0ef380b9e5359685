"""Expected answers of every decision query for a few example patients, kept beside the tests
(the W3C SPARQL test-manifest idea): tests/query_expected/<case>.json maps each query run (name,
and the row it was bound to) to its result rows.

Regenerate after a deliberate change, then review the diff: python tests/query_expectations.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portability import without_comments
from rdflib.term import Node

from kg_builder.decisions.decide import prepare, recommend_patient
from kg_builder.decisions.engines import Row, query_text
from kg_builder.paths import EXAMPLES_DIR, QUERIES_DIR
from kg_builder.patients.readers import read_patient_file

EXPECTED_DIR = Path(__file__).with_name("query_expected")
CASES = ("row2-low-level-ul97", "mixed-ul97-ul54", "row6-ul54-triple", "cns-retinitis", "unknown-variant",
         "row7-letermovir", "different-assays")  # fmt: skip
_NAMES = {without_comments(query_text(path.stem)).split("WHERE")[0]: path.stem for path in QUERIES_DIR.glob("*.rq")}


class RecordingEngine:
    """Passes queries through to an engine and keeps what each returned."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.name, self.runs = engine, engine.name, {}

    def select(self, query: str, bindings: dict[str, Node]) -> list[Row]:
        rows = self.engine.select(query, bindings)
        self.runs[_NAMES[without_comments(query).split("WHERE")[0]]] = sorted(
            rows, key=lambda row: json.dumps(row, sort_keys=True)
        )
        return rows


def answers(case: str, engine_name: str) -> dict[str, list[Row]]:
    engine, [patient] = prepare([read_patient_file(EXAMPLES_DIR / "cases" / f"{case}.json").graph], engine_name)
    recorder = RecordingEngine(engine)
    recommend_patient(recorder, patient)  # type: ignore[arg-type]
    return recorder.runs


if __name__ == "__main__":
    EXPECTED_DIR.mkdir(exist_ok=True)
    for name in CASES:
        target = EXPECTED_DIR / f"{name}.json"
        target.write_text(json.dumps(answers(name, "rdflib"), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        print("wrote", target)
