"""Validate one typical patient: cmvrr's path against a plain pyshacl run, in the same process.

The baseline is what a user would write first: merge the patient with the whole ontology and
knowledge graph and call pyshacl.validate with the same shapes. cmvrr validates against a cached
slice of the knowledge graph. Both are timed warm (after one untimed run); the ratio is what
counts, absolute times depend on the machine.

Run: python benchmarks/bench_validate.py [--repeat N]
"""

from __future__ import annotations

import argparse

from pyshacl import validate

from kg_builder.checks.validate import patient_shapes, validate_input
from kg_builder.commands.bench import median_ms
from kg_builder.knowledge.graph import knowledge
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_file

PATIENT = EXAMPLES_DIR / "valid" / "ul97-low-level.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    item = read_patient_file(PATIENT)
    full = knowledge()
    shapes = patient_shapes()

    def baseline() -> object:
        return validate(item.graph + full, shacl_graph=shapes, advanced=True, inference="none", allow_warnings=True)

    def cmvrr() -> object:
        return validate_input(item)

    base, ours = median_ms(baseline, repeat), median_ms(cmvrr, repeat)
    print(f"patient: {PATIENT.name} ({len(item.graph)} triples); knowledge graph {len(full)} triples")
    print(f"{'path':<38}{'median ms':>10}")
    print(f"{'baseline: pyshacl, patient + full KG':<38}{base:>10.1f}")
    print(f"{'cmvrr validate (cached KG slice)':<38}{ours:>10.1f}")
    print(f"speed-up: {base / ours:.1f}x")


if __name__ == "__main__":
    main()
