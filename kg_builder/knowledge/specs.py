"""The curated tables' columns and the rule each column's cells follow: the table specs, as data.

ontology/tables/*.tsv are the source of truth for every individual of the knowledge graph;
tables.py reads them against these specs and runs the curation rules that span columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..paths import TABLES_DIR

GRADES = {"strength": "ABCDE", "evidence": ("I", "II", "III")}
RESISTANCE_DRUGS = ("ganciclovir", "foscarnet", "cidofovir", "letermovir", "maribavir")


@dataclass(frozen=True)
class Column:
    """One column and the rule its cells follow.

    kind: text (free), key (kebab-case or gene-style token), int, decimal, bool, enum, tokens
    (space-separated), ref (a key of another table), refs (space-separated keys).
    """

    name: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    target: str = ""  # for ref/refs: "table" or "table:column"


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: str
    numeric_key: bool = False

    @property
    def path(self) -> Path:
        return TABLES_DIR / f"{self.name}.tsv"


def _c(name: str, kind: str = "text", required: bool = False, *choices: str, target: str = "") -> Column:
    return Column(name, kind, required, tuple(choices), target)


_PROVENANCE = (_c("location", "ref", True, target="sections"), _c("source_wording", required=True))
_R_S = ("R", "S", "")

SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "concepts",
            (
                _c("concept", "key", True),
                _c("class", "key", True),
                _c("scheme", "ref", False, target="concepts"),
                _c("notation", required=True),
                _c("label", required=True),
                _c("definition", required=True),
            ),
            key="concept",
        ),
        TableSpec(
            "references",
            (
                _c("number", "int", True),
                _c("citation", required=True),
                _c("year", "int"),
                _c("url"),
                _c("doi"),
                _c("note"),
            ),
            key="number",
            numeric_key=True,
        ),
        TableSpec(
            "genes",
            (
                _c("gene", "key", True),
                _c("label", required=True),
                _c("protein", required=True),
                _c("refseq_protein", required=True),
                _c("ncbi_gene_id", "int", True),
                _c("protein_length", "int", True),
                *_PROVENANCE,
            ),
            key="gene",
        ),
        TableSpec(
            "therapies",
            (
                _c("therapy", "key", True),
                _c("label", required=True),
                _c(
                    "kind",
                    "enum",
                    True,
                    "antiviral",
                    "adjunct-agent",
                    "growth-factor",
                    "immunoglobulin",
                    "cell-therapy",
                ),
                _c("chebi"),
                _c("drugbank"),
                _c("route", "enum", False, "oral", "intravenous", "subcutaneous"),
                _c("prodrug_of", "ref", target="therapies"),
                _c("investigational", "bool", True),
                *_PROVENANCE,
                _c("note"),
            ),
            key="therapy",
        ),
        TableSpec(
            "regimens",
            (
                _c("regimen", "key", True),
                _c("therapy", "ref", True, target="therapies"),
                _c("label", required=True),
                _c("min_mg_per_kg", "decimal"),
                _c("max_mg_per_kg", "decimal"),
                _c("dose_mg", "decimal"),
                _c("interval_h", "decimal", True),
                _c("route", "enum", True, "oral", "intravenous", "subcutaneous"),
                # the least dose the guideline treats with: a course below it is not "appropriately dosed" (FAQ1)
                _c("treatment_minimum", "bool", True),
                *_PROVENANCE,
            ),
            key="regimen",
        ),
        TableSpec(
            "mutations",
            (
                _c("mutation", "key", True),
                _c("gene", "ref", True, target="genes"),
                _c("kind", "enum", True, "substitution", "stop-gain"),
                _c("ref", required=True),
                _c("position", "int", True),
                _c("alt", required=True),
                *(_c(drug, "enum", False, *_R_S) for drug in RESISTANCE_DRUGS),
                _c("basis", "enum", True, "clinical", "in-vitro"),
                _c("gcv_level", "enum", False, "low", "high"),
                _c("level_source"),
                _c("most_common", "bool", True),
                _c("source_gene", "ref", True, target="genes"),
                _c("source_wording", required=True),
                _c("repair"),
                _c("repair_certainty", "enum", False, "certain", "probable", "uncertain"),
                _c("note"),
            ),
            key="mutation",
        ),
        TableSpec(
            "table4-rows",
            (
                _c("row", "int", True),
                _c("label", required=True),
                _c("genes", "refs", target="genes"),
                _c("resistant_to", "refs", target="therapies"),
                _c("not_resistant_to", "refs", target="therapies"),
                _c("gcv_level", "enum", False, "low", "high"),
                _c("refractory_without_resistance", "bool", True),
                _c("precedence", "int", True),
                _c("source_wording", required=True),
                _c("note"),
            ),
            key="row",
            numeric_key=True,
        ),
        TableSpec(
            "table4-options",
            (
                _c("option", "key", True),
                _c("row", "ref", True, target="table4-rows"),
                _c("rank", "int", True),
                _c("action", "ref", True, target="concepts:action-"),
                _c("modality", "ref", True, target="concepts:modality-"),
                _c("therapies", "refs", True, target="therapies"),
                _c("regimen", "ref", target="regimens"),
                _c("replaces", "ref", target="therapies"),
                _c("condition", "ref", target="concepts:condition-"),
                # GENE or GENE:level tokens: the resistance the option is prescribed despite (rows 2 and 6)
                _c("stands_despite", "tokens"),
                _c("together_with", "ref", target="table4-options"),
                _c("source_wording", required=True),
                _c("recommendations", "refs", target="recommendations"),
                _c("note"),
            ),
            key="option",
        ),
        TableSpec(
            "recommendations",
            (
                _c("id", "key", True),
                _c("section", "ref", True, target="sections"),
                _c("appendix_group", "enum", False, "faq3-8", "faq9-15", "faq16-18", "faq19-22"),
                _c("faq", "ref", True, target="sections"),
                _c("statement", required=True),
                _c("source_wording", required=True),
                _c("strength", "enum", True, *GRADES["strength"]),
                _c("evidence", "enum", True, *GRADES["evidence"]),
                _c("references", "refs", target="references"),
                _c("about", "refs", True, target="topics"),
                _c("polarity", "enum", True, "for", "against", "optional"),
                _c("counterpart", "ref", target="recommendations"),
                _c("note"),
            ),
            key="id",
        ),
        TableSpec(
            "definitions",
            (
                _c("term", "key", True),
                _c("label", required=True),
                _c("kind", "enum", True, "infection", "disease"),
                _c("min_days_on_therapy", "int"),
                _c("min_fold_rise", "decimal"),
                _c("max_fold_rise", "decimal"),
                _c("same_assay_required", "bool"),
                _c("references", "refs", target="references"),
                *_PROVENANCE,
            ),
            key="term",
        ),
        TableSpec(
            "thresholds",
            (
                _c("threshold", "key", True),
                _c("label", required=True),
                _c("quantity", "ref", True, target="concepts:quantity-"),
                _c("comparator", "enum", True, "<", "<=", ">=", ">"),
                _c("value", "decimal", True),
                _c("unit", "enum", True, "IU/mL", "%"),
                _c("genes", "refs", target="genes"),
                _c("specimen", "ref", target="concepts:specimen-"),
                _c("recommendation", "ref", target="recommendations"),
                _c("references", "refs", target="references"),
                *_PROVENANCE,
            ),
            key="threshold",
        ),
        TableSpec(
            "risk-factors",
            (
                _c("id", "key", True),
                _c("category", "ref", True, target="concepts:risk-"),
                _c("label", required=True),
                _c("source_wording", required=True),
                _c("examples"),
                _c("references", "refs", target="references"),
                _c("patient_term"),
                _c("note"),
            ),
            key="id",
        ),
        TableSpec(
            "disease-sites",
            (
                _c("site", "key", True),
                _c("label", required=True),
                _c("system", "ref", True, target="concepts:system-"),
                _c("cns", "bool", True),
                _c("symptoms", required=True),
                _c("diagnostic_procedures", required=True),
                _c("specimen_types", required=True),
                _c("specimen_tokens", "refs", True, target="concepts:specimen-"),
                _c("findings"),
                _c("response_to_treatment"),
                _c("comment"),
                _c("source_wording", required=True),
                _c("note"),
            ),
            key="site",
        ),
        TableSpec(
            "advice",
            (
                _c("advice", "key", True),
                _c("recommendation", "ref", True, target="recommendations"),
                # every condition must hold (AND)
                _c("applies_when", "refs", True, target="concepts:applies-"),
                _c("excludes", "ref", target="therapies"),
                _c("note"),
            ),
            key="advice",
        ),
        TableSpec(
            "diagnostics",
            (
                _c("method", "key", True),
                _c("label", required=True),
                _c("research_setting", "bool", True),
                _c("comments", required=True),
                _c("genes", "refs", target="genes"),
                _c("specimens", "refs", target="concepts:specimen-"),
                _c("references", "refs", target="references"),
                _c("source_wording", required=True),
                _c("note"),
            ),
            key="method",
        ),
    )
}

# Sections of the guideline that facts may cite: FAQ1-24, Tables 1-5, Appendix 1 and Table 4
# rows (the "location" of a regimen, for example).
SECTIONS = frozenset(
    [f"faq{n}" for n in range(1, 25)]
    + [f"table{n}" for n in range(1, 6)]
    + ["appendix1"]
    + [f"table4-row-{n}" for n in range(1, 9)]
)


__all__ = ["GRADES", "RESISTANCE_DRUGS", "SECTIONS", "SPECS", "Column", "TableSpec"]
