"""The second source's resistance calls, recomputed in plain Python from the packaged HerpesDRG
table and the Table 5 TSV: the independent oracle of ontology/sources/herpesdrg-calls.rq
(docs/architecture.md, Second source). The tests compare the two, and the safety invariants use
this one, never the package's SPARQL.

Rule: Table 5 decides for its mutations and its drug columns; elsewhere the highest fold change
of the mutation measured alone decides: resistant from 2-fold in a gene where Table 5 places
resistance to the drug, from 5-fold elsewhere, or the study's word "resistant"; 2-5-fold
outside those genes is reduced susceptibility; below 2 (or "polymorphism") no resistance.
"""

from __future__ import annotations

import csv
from functools import cache

from kg_builder.knowledge.tables import RESISTANCE_DRUGS, load_tables
from kg_builder.paths import ONTOLOGY_DIR
from kg_builder.patients.mutations import normal_form, parse_mutation

TABLE5 = {row["mutation"]: row for row in load_tables()["mutations"]}
COLUMNS = tuple(RESISTANCE_DRUGS)  # ganciclovir, foscarnet, cidofovir, letermovir, maribavir
# Genes where Table 5 places resistance to each drug (Table 5's column; valganciclovir is ganciclovir's).
RESISTANCE_GENES = {drug: {row["gene"] for row in TABLE5.values() if row[drug] == "R"} for drug in COLUMNS}


def key(normal_form: str) -> str:
    """UL97:C592G -> UL97_C592G; UL27:C415* -> UL27_C415stop."""
    return normal_form.replace(":", "_", 1).replace("*", "stop")


@cache
def calls() -> dict[tuple[str, str], str]:
    """(mutation key, drug) -> "R" (resistant), "RS" (reduced susceptibility) or "S" (none measured),
    for the pairs Table 5 leaves to HerpesDRG; valganciclovir follows ganciclovir."""
    highest: dict[tuple[str, str], float] = {}
    said: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    with (ONTOLOGY_DIR / "sources" / "herpesdrg.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["co_mutations"]:
                continue
            pair = (key(row["mutation"]), row["drug"])
            seen.add(pair)
            if row["fold_change"]:
                highest[pair] = max(highest.get(pair, 0.0), float(row["fold_change"]))
            if row["call"] == "resistant":
                said.add(pair)
    result = {}
    for mutation, drug in seen:
        if mutation in TABLE5 and drug in COLUMNS:
            continue  # Table 5 decides
        gene = mutation.split("_", 1)[0]
        fold = highest.get((mutation, drug))
        in_gene = gene in RESISTANCE_GENES.get(drug, set())
        if (mutation, drug) in said or (fold is not None and (fold >= 5 or (in_gene and fold >= 2))):
            call = "R"
        elif fold is not None and fold >= 2:
            call = "RS"
        else:
            call = "S"
        result[(mutation, drug)] = call
        if drug == "ganciclovir":
            result[(mutation, "valganciclovir")] = call
    return result


def defeats(mutation_key: str, drug: str) -> bool:
    """Does HerpesDRG (where Table 5 is silent) call the mutation resistant to the drug?"""
    return calls().get((mutation_key, drug)) == "R"


@cache
def resistance_codons(drug: str) -> frozenset[tuple[str, int]]:
    """(gene, position) of every mutation either source calls resistant to ``drug``."""
    column = "ganciclovir" if drug == "valganciclovir" else drug
    codons = {(row["gene"], int(row["position"])) for row in TABLE5.values() if row.get(column) == "R"}
    for (mutation, called), call in calls().items():
        if called == drug and call == "R":
            name = parse_mutation(normal_form(mutation))
            codons.add((name.gene, name.position))
    return frozenset(codons)


def pseudo_row(mutation_key: str, drug: str) -> dict[str, str]:
    """A HerpesDRG call in the shape of a Table 5 row for the oracles: gene, and for UL97 and
    ganciclovir the high level FAQ9 implies (only M460I, C592G, L595W are low-level)."""
    gene = mutation_key.split("_", 1)[0]
    kinase = gene == "UL97" and drug in ("ganciclovir", "valganciclovir")
    return {"mutation": mutation_key, "gene": gene, "gcv_level": "high" if kinase else ""}


@cache
def second_source_only() -> tuple[str, ...]:
    """Mutations HerpesDRG calls resistant to some drug that Table 5 does not list at all (normal form)."""
    keys = sorted({mutation for (mutation, _), call in calls().items() if call == "R" and mutation not in TABLE5})
    return tuple(normal_form(k) for k in keys)


@cache
def known_to_second_source() -> frozenset[str]:
    """Mutation keys with a decision-changing HerpesDRG call (resistant or reduced susceptibility)."""
    return frozenset(mutation for (mutation, _), call in calls().items() if call in ("R", "RS"))
