"""Safety (docs/architecture.md, Sequence input 4): no known resistance covers only what was read.
Over thousands of generated genotype tests with genes read whole or in part, "no-known-resistance"
for a drug implies that every codon where Table 5 or HerpesDRG places resistance to it was read
by some test; and a patient whose relevant genes were all read whole, with nothing found, gets it.

The oracle is independent of the SPARQL: the codons come from the Table 5 TSV and the packaged
HerpesDRG table, recomputed in Python (second_source.py)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import second_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_safety_invariants import DRUG_COLUMN, TABLE5, position_of, recommend

from kg_builder.sequences.reference import RESISTANCE_GENES, merlin

DRUGS = ("ganciclovir", "valganciclovir", "foscarnet", "cidofovir", "letermovir", "maribavir")
EXAMPLES = int(os.environ.get("CMVRR_COVERAGE_EXAMPLES", "500"))


@cache
def resistance_codons(drug: str) -> frozenset[tuple[str, int]]:
    """(gene, codon) where either source places resistance to ``drug``."""
    column = DRUG_COLUMN[drug]
    codons = {position_of(key) for key, row in TABLE5.items() if row[column] == "R"}
    codons |= {position_of(key) for (key, called), call in second_source.calls().items()
               if called in (drug, column) and call == "R"}  # fmt: skip
    return frozenset(codons)


def _length(gene: str) -> int:
    return len(merlin().genes[gene].protein)


@st.composite
def covered_tests(draw: st.DrawFn) -> list[dict[str, Any]]:
    tests = []
    for number in range(draw(st.integers(1, 2))):
        genes = draw(st.lists(st.sampled_from(RESISTANCE_GENES), min_size=1, max_size=6, unique=True))
        coverage = {}
        for gene in draw(st.lists(st.sampled_from(genes), max_size=len(genes), unique=True)):
            low = draw(st.integers(1, _length(gene)))
            high = draw(st.integers(low, _length(gene)))
            coverage[gene] = f"{low}-{high}"
        tests.append({"date": f"2025-0{number + 1}-01", "specimen": "plasma", "genes_tested": genes,
                      "coverage": coverage})  # fmt: skip
    return tests


def read_codons(tests: list[dict[str, Any]]) -> dict[str, set[int] | None]:
    """Per gene, the codons read (None: read whole by some test)."""
    read: dict[str, set[int] | None] = {}
    for test in tests:
        for gene in test["genes_tested"]:
            if gene not in test["coverage"]:
                read[gene] = None
            elif read.get(gene, set()) is not None:
                low, high = map(int, test["coverage"][gene].split("-"))
                read.setdefault(gene, set()).update(range(low, high + 1))  # type: ignore[union-attr]
    return read


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(covered_tests())
def test_no_known_resistance_covers_only_codons_read(tests: list[dict[str, Any]]) -> None:
    record = {"id": "COVER", "genotype_tests": tests}
    susceptibility = recommend(record).susceptibility
    read = read_codons(tests)
    for drug in DRUGS:
        unread = sorted((gene, codon) for gene, codon in resistance_codons(drug)
                        if gene not in read or (read[gene] is not None and codon not in read[gene]))  # type: ignore[operator]  # fmt: skip
        status = susceptibility[drug].status
        if unread:
            assert status != "no-known-resistance", (drug, unread[:5])
        else:
            assert status == "no-known-resistance", (drug, status)
