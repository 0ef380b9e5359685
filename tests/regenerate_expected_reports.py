"""Write the expected report of each invalid and warning fixture into tests/expected_reports/
(review the diff!). They live apart from the fixtures, so that a glob over the examples
(cmvrr validate ontology/examples/invalid/*) finds patients only.

Run: python tests/regenerate_expected_reports.py
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from kg_builder.checks.validate import validate_input
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_file

REPORTS_DIR = Path(__file__).resolve().parent / "expected_reports"


def report_path(fixture: Path) -> Path:
    """Where a fixture's expected report lives: expected_reports/<folder>/<stem>.json."""
    return REPORTS_DIR / fixture.parent.name / f"{fixture.stem}.json"


def expected_report(path):  # type: ignore[no-untyped-def]
    report = validate_input(read_patient_file(path))
    return [
        {"patient": patient.patient, "conforms": patient.conforms, "findings": [asdict(f) for f in patient.findings]}
        for patient in report.patients
    ]


if __name__ == "__main__":
    for folder in ("invalid", "warnings"):
        for path in sorted((EXAMPLES_DIR / folder).iterdir()):
            target = report_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(expected_report(path), indent=2, ensure_ascii=False) + "\n")
            print("wrote", target)
