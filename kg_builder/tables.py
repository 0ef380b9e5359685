"""The curated tables (ontology/tables/*.tsv): their columns, their curation rules, and reading.

The tables are the source of truth for every individual of the knowledge graph. Each rule here
is a curation rule a row must pass before the build uses it; a row that breaks one stops the
build with the file, line and what to fix (TableError).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TableError
from .mutations import ONE_LETTER as AMINO_ACIDS
from .mutations import MutationName
from .paths import TABLES_DIR

Row = dict[str, str]

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
    extra_rules: tuple[str, ...] = field(default=())

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
                _c("prescribed_despite_resistance", "bool"),
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
                _c("applies_when", "ref", True, target="concepts:applies-"),
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

_KEY = re.compile(r"^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$")
_DECIMAL = re.compile(r"^-?\d+(?:\.\d+)?$")


def natural_key(text: str) -> list[int | str]:
    """Sort key that compares digit runs as numbers: faq2 before faq10, row 2 before row 10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def read_table(spec: TableSpec) -> list[tuple[int, Row]]:
    """Rows of one table with their line numbers, each cell checked against its column rule."""
    path = spec.path
    if not path.is_file():
        raise TableError(path, 0, "table file is missing")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        expected = [column.name for column in spec.columns]
        if header != expected:
            raise TableError(path, 1, f"header must be exactly {expected}, found {header}")
        rows: list[tuple[int, Row]] = []
        for number, cells in enumerate(reader, start=2):
            if len(cells) != len(expected):
                raise TableError(path, number, f"expected {len(expected)} tab-separated cells, found {len(cells)}")
            row = dict(zip(expected, cells, strict=True))
            for column in spec.columns:
                problem = _cell_problem(column, row[column.name])
                if problem:
                    raise TableError(path, number, f"column {column.name!r}: {problem}")
            rows.append((number, row))
    _check_keys_unique_and_sorted(spec, rows)
    return rows


def _cell_problem(column: Column, value: str) -> str:
    if value != value.strip():
        return f"leading or trailing whitespace in {value!r}"
    if not value:
        return "is required but empty" if column.required else ""
    kind = column.kind
    if kind == "key" and not _KEY.match(value):
        return f"{value!r} is not a key (letters, digits, '-' or '_')"
    if kind == "int" and not value.isdigit():
        return f"{value!r} is not a whole number"
    if kind == "decimal" and not _DECIMAL.match(value):
        return f"{value!r} is not a decimal number"
    if kind == "decimal" and float(value) < 0:
        return f"{value!r} is negative"
    if kind == "bool" and value not in ("true", "false"):
        return f"{value!r} must be true or false"
    if kind == "enum" and value not in column.choices:
        return f"{value!r} is not one of {list(column.choices)}"
    return ""


def _check_keys_unique_and_sorted(spec: TableSpec, rows: list[tuple[int, Row]]) -> None:
    previous: list[int | str] | None = None
    seen: set[str] = set()
    for number, row in rows:
        key = row[spec.key]
        if key in seen:
            raise TableError(spec.path, number, f"duplicate {spec.key} {key!r}")
        seen.add(key)
        order: list[int | str] = [int(key)] if spec.numeric_key else natural_key(key)
        if previous is not None and order < previous:
            raise TableError(spec.path, number, f"rows must be sorted by {spec.key}: {key!r} comes too late")
        previous = order


@dataclass(frozen=True)
class Tables:
    """All curated tables, read and cross-checked."""

    rows: Mapping[str, list[tuple[int, Row]]]

    def __getitem__(self, name: str) -> list[Row]:
        return [row for _, row in self.rows[name]]

    def lines(self, name: str) -> Iterator[tuple[int, Row]]:
        return iter(self.rows[name])


def load_tables() -> Tables:
    """Read every table and check the references between them (foreign keys)."""
    tables = Tables({name: read_table(spec) for name, spec in SPECS.items()})
    keys = _key_sets(tables)
    for name, spec in SPECS.items():
        for number, row in tables.lines(name):
            for column in spec.columns:
                if column.kind in ("ref", "refs") and row[column.name]:
                    for value in row[column.name].split():
                        target_keys = keys[column.target]
                        if value not in target_keys:
                            raise TableError(
                                spec.path,
                                number,
                                f"column {column.name!r}: {value!r} is not a known {_describe(column.target)}",
                            )
    return tables


def _describe(target: str) -> str:
    table, _, prefix = target.partition(":")
    return f"{prefix}* concept" if prefix else f"key of {table}"


def _key_sets(tables: Tables) -> dict[str, frozenset[str]]:
    keys = {name: frozenset(row[SPECS[name].key] for row in tables[name]) for name in SPECS}
    concepts = keys["concepts"]
    targets: dict[str, frozenset[str]] = dict(keys)
    targets["sections"] = SECTIONS
    # A statement can be about a therapy, a disease site or a topic concept.
    targets["topics"] = (
        keys["therapies"]
        | keys["disease-sites"]
        | {c.removeprefix("topic-") for c in concepts if c.startswith("topic-")}
    )
    for spec in SPECS.values():
        for column in spec.columns:
            _, _, prefix = column.target.partition(":")
            if prefix:
                targets[column.target] = frozenset(c.removeprefix(prefix) for c in concepts if c.startswith(prefix))
    return targets


def mutation_name(row: Row) -> str:
    """The key a Table 5 row must have: the normal name of its mutation (UL97_C592G, UL27_C415stop)."""
    return MutationName(row["gene"], int(row["position"]), row["ref"], row["alt"]).local_name


def check_mutations(tables: Tables) -> None:
    """Curation rules of Table 5 that span columns and tables (DESIGN.md, Safety rule 3)."""
    path = SPECS["mutations"].path
    lengths = {row["gene"]: int(row["protein_length"]) for row in tables["genes"]}
    residue_at: dict[tuple[str, int], tuple[str, int]] = {}
    for number, row in tables.lines("mutations"):
        gene, position = row["gene"], int(row["position"])
        if row["ref"] not in AMINO_ACIDS:
            raise TableError(path, number, f"reference residue {row['ref']!r} is not a one-letter amino acid")
        if row["alt"] not in AMINO_ACIDS | {"*"}:
            raise TableError(path, number, f"alternative residue {row['alt']!r} is not an amino acid or *")
        if (row["alt"] == "*") != (row["kind"] == "stop-gain"):
            raise TableError(path, number, "kind stop-gain goes with alternative residue * and only with it")
        if row["mutation"] != mutation_name(row):
            raise TableError(path, number, f"key {row['mutation']!r} should be {mutation_name(row)!r}")
        if not 1 <= position <= lengths[gene]:
            raise TableError(path, number, f"position {position} lies outside {gene} (1-{lengths[gene]})")
        earlier = residue_at.setdefault((gene, position), (row["ref"], number))
        if earlier[0] != row["ref"]:
            raise TableError(
                path, number, f"{gene} residue {position} is {row['ref']} here but {earlier[0]} on line {earlier[1]}"
            )
        if "R" not in (row[drug] for drug in RESISTANCE_DRUGS):
            raise TableError(path, number, "a Table 5 mutation must confer resistance to at least one drug (R)")
        if bool(row["gcv_level"]) and row["ganciclovir"] != "R":
            raise TableError(path, number, "gcv_level is set but the mutation is not ganciclovir-resistant")
        if bool(row["repair"]) != bool(row["repair_certainty"]):
            raise TableError(path, number, "a repair needs its certainty, and a certainty needs its repair")
