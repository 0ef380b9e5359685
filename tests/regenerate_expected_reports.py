"""Write the expected report beside each invalid and warning fixture (review the diff!).

Run: python tests/regenerate_expected_reports.py
"""

from __future__ import annotations

import json
from dataclasses import asdict

from kg_builder.checks.validate import validate_input
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_file


def expected_report(path):  # type: ignore[no-untyped-def]
    report = validate_input(read_patient_file(path))
    return [
        {"patient": patient.patient, "conforms": patient.conforms, "findings": [asdict(f) for f in patient.findings]}
        for patient in report.patients
    ]


if __name__ == "__main__":
    for folder in ("invalid", "warnings"):
        for path in sorted((EXAMPLES_DIR / folder).iterdir()):
            if path.name.endswith(".expected.json"):
                continue
            target = path.with_name(path.stem + ".expected.json")
            target.write_text(json.dumps(expected_report(path), indent=2, ensure_ascii=False) + "\n")
            print("wrote", target)
