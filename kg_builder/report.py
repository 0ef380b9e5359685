"""Reports for people (text) and machines (JSON). Text groups by file and patient and says what
to fix; JSON carries the same findings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from .validate import FileReport

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
    return "\n".join(lines)
