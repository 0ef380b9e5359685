"""Clinical safety (docs/architecture.md, Safety rules) as invariants over thousands of generated patients.

The oracle is independent of the SPARQL: it reads Table 5 straight from the curated table.
"""

from __future__ import annotations

import os
from typing import Any

import second_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph

from kg_builder.decisions.decide import recommend_graph
from kg_builder.decisions.model import Recommendation
from kg_builder.knowledge.tables import RESISTANCE_DRUGS, load_tables
from kg_builder.patients.mutations import normal_form, parse_mutation
from kg_builder.patients.record import DISEASE_SITES
from kg_builder.patients.record import add_record as _add_record

TABLE5 = {row["mutation"]: row for row in load_tables()["mutations"]}
DRUG_COLUMN = {drug: drug for drug in RESISTANCE_DRUGS} | {"valganciclovir": "ganciclovir"}
GENES = ["UL27", "UL51", "UL54", "UL56", "UL89", "UL97"]
SITES = list(DISEASE_SITES)
CNS = {"retinitis", "encephalitis", "ventriculitis"}
KNOWN_POSITIONS = {(row["gene"], int(row["position"])) for row in TABLE5.values()}
# Table 5's mutations and those only HerpesDRG knows as resistant (docs/architecture.md, Second source).
KNOWN = sorted(TABLE5) + [second_source.key(name) for name in second_source.second_source_only()]
EXAMPLES = int(os.environ.get("CMVRR_SAFETY_EXAMPLES", "1500"))


def notation(key: str) -> str:
    gene, change = key.split("_", 1)
    return f"{gene}:{change.replace('stop', '*')}"


unknown_mutations = st.builds(
    lambda gene, position, ref, alt: f"{gene}:{ref}{position}{alt}",
    st.sampled_from(GENES),
    st.integers(1, 150),
    st.sampled_from("ACDEFGHIKLMNPQRSTVWY"),
    st.sampled_from("ACDEFGHIKLMNPQRSTVWY"),
).filter(lambda text: text.split(":")[1][0] != text[-1])
days = st.integers(0, 120)


def day(offset: int) -> str:
    import datetime

    return (datetime.date(2025, 1, 1) + datetime.timedelta(days=offset)).isoformat()


@st.composite
def patients(draw: st.DrawFn) -> dict[str, Any]:
    known = draw(st.lists(st.sampled_from(KNOWN), max_size=4, unique=True))
    unknown = [m for m in draw(st.lists(unknown_mutations, max_size=2, unique=True))
               if (m.split(":")[0], int(m.split(":")[1][1:-1])) not in KNOWN_POSITIONS]  # fmt: skip
    mutations = [notation(key) for key in known] + unknown
    genes = sorted(
        {m.split(":")[0] for m in mutations} | set(draw(st.lists(st.sampled_from(GENES), max_size=6, unique=True)))
    )
    courses = [
        {
            "drug": draw(
                st.sampled_from(["ganciclovir", "valganciclovir", "foscarnet", "cidofovir", "letermovir", "maribavir"])
            ),
            "start": day(start),
            "intent": draw(st.sampled_from(["treatment", "prophylaxis", "secondary-prophylaxis"])),
            **({"end": day(start + draw(st.integers(0, 60)))} if draw(st.booleans()) else {}),
        }
        for start in draw(st.lists(days, max_size=2))
    ]
    specimens, assays = st.sampled_from(["plasma", "whole-blood"]), st.sampled_from(["assay A", "assay B"])
    loads = [
        {"date": day(offset), "iu_per_ml": draw(st.integers(0, 2_000_000)), "specimen": draw(specimens),
         "assay": draw(assays)}
        for offset in draw(st.lists(days, max_size=4))
    ]  # fmt: skip
    record: dict[str, Any] = {
        "id": "GEN",
        "age_years": draw(st.integers(0, 80)),
        "transplant": {"donor": draw(st.sampled_from(["matched-related", "haploidentical", "cord"])),
                       "t_cell_depleted": draw(st.booleans())},
        "disease_sites": draw(st.lists(st.sampled_from(SITES), max_size=3, unique=True)),
        "antivirals": courses,
        "viral_loads": loads,
        "host_factors": {"scid": draw(st.booleans()), "car_t": draw(st.booleans())},
    }  # fmt: skip
    if genes or mutations:
        record["genotype_tests"] = [
            {"date": day(draw(days)), "specimen": "plasma", "genes_tested": genes, "mutations": mutations}
        ]
    return record


def recommend(record: dict[str, Any]) -> Recommendation:
    graph = Graph()
    problems = list(_add_record(graph, record))
    assert not problems, problems
    [recommendation] = recommend_graph(graph, "oxigraph")
    return recommendation


def position_of(key: str) -> tuple[str, int]:
    name = parse_mutation(normal_form(key))
    return name.gene, name.position


def defeating(record: dict[str, Any], therapy: str) -> list[dict[str, str]]:
    """Table 5 rows of the detected mutations that defeat ``therapy`` (the independent oracle)."""
    column = DRUG_COLUMN.get(therapy)
    detected = {
        m.replace(":", "_").replace("*", "stop") for test in record.get("genotype_tests", []) for m in test["mutations"]
    }
    found = [TABLE5[key] for key in detected if key in TABLE5 and column and TABLE5[key][column] == "R"]
    # Where Table 5 is silent, HerpesDRG's calls (second_source.py, independent of the package's SPARQL).
    return found + [second_source.pseudo_row(key, therapy) for key in detected
                    if (key not in TABLE5 or not column) and second_source.defeats(key, therapy)]  # fmt: skip


SAFETY = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@SAFETY
@given(patients())
def test_safety_invariants(record: dict[str, Any]) -> None:
    rec = recommend(record)
    sites = set(record["disease_sites"])
    detected = {
        m.replace(":", "_").replace("*", "stop") for t in record.get("genotype_tests", []) for m in t["mutations"]
    }
    tested = {gene for t in record.get("genotype_tests", []) for gene in t["genes_tested"]}

    for option in rec.options:
        # Safety rule 5: every option names its source: a Table 4 row, or FAQ9 where no row applies
        sources = ("Table 4 row", "derived", "no antiviral", "unacceptable drug toxicity recorded")
        assert option.reasons and option.reasons[0].startswith(sources), option
        assert option.therapy != "letermovir"  # FAQ9 (D-III): no letermovir monotherapy
        culprits = defeating(record, option.therapy)
        if culprits:
            # Safety rule 1: only rows 2 and 6 prescribe a drug against its resistance, for exactly
            # that resistance, and the option says so.
            assert option.row in (2, 6), (option, culprits)
            assert any(reason.startswith("prescribed despite") for reason in option.reasons)
            if option.row == 2:
                assert all(row["gene"] == "UL97" and row["gcv_level"] == "low" for row in culprits)
            elif option.therapy == "ganciclovir":  # row 6's high dose: UL54, and low-level UL97 as in row 2
                assert all(row["gene"] == "UL54" or row["gcv_level"] == "low" for row in culprits)
            else:
                assert all(row["gene"] == "UL54" for row in culprits)
        if option.therapy == "maribavir":
            assert not sites & CNS  # FAQ24 (D-II)
            assert not defeating(record, "maribavir")
        if option.row == 2 and option.therapy == "ganciclovir":
            assert not sites  # Table 4 row 2: only if CMV disease is not present
    for exclusion in rec.excluded:
        assert exclusion.reasons

    for drug, result in rec.susceptibility.items():
        column = DRUG_COLUMN[drug]
        relevant = {row["gene"] for row in TABLE5.values() if row[column] == "R"}
        known_resistance = any(TABLE5[key][column] == "R" for key in detected if key in TABLE5) or any(
            second_source.defeats(key, drug) for key in detected if key not in TABLE5
        )
        # Safety rule 2: resistant only on a known mutation; "no known resistance" only when every
        # relevant gene was tested; nothing is ever called susceptible.
        assert result.status in ("resistant", "uncertain", "no-known-resistance", "unknown")
        assert (result.status == "resistant") == known_resistance, (drug, result)
        # Another substitution at a codon of known resistance, unknown to both sources: "uncertain".
        at_codon = any(position_of(key) in second_source.resistance_codons(drug) for key in detected
                       if key not in TABLE5 and key not in second_source.known_to_second_source())  # fmt: skip
        assert (result.status == "uncertain") == (at_codon and not known_resistance), (drug, result)
        if result.status == "no-known-resistance":
            assert relevant <= tested
    assert {m["mutation"].replace(" ", "_").replace("*", "stop") for m in rec.uncertain_mutations} == (
        detected - set(TABLE5) - second_source.known_to_second_source()
    )
