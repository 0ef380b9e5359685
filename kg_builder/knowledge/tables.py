"""The curated tables (ontology/tables/*.tsv): their columns, their curation rules, and reading.

The tables are the source of truth for every individual of the knowledge graph. Each rule here
is a curation rule a row must pass before the build uses it; a row that breaks one stops the
build with the file, line and what to fix (TableError).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..errors import TableError
from ..patients.mutations import ONE_LETTER as AMINO_ACIDS
from ..patients.mutations import MutationName
from .specs import RESISTANCE_DRUGS, SECTIONS, SPECS, Column, TableSpec

Row = dict[str, str]

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
    """Curation rules of Table 5 that span columns and tables (docs/architecture.md, Safety rule 3)."""
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


def check_table4(tables: Tables) -> None:
    """Curation rules of Table 4 that span columns: an option prescribed despite resistance names
    genes of the knowledge graph (and a ganciclovir level) and a therapy the row gives; options
    given together name each other (row 6: "continue foscarnet and ADD high-dose ganciclovir")."""
    path = SPECS["table4-options"].path
    genes = {row["gene"] for row in tables["genes"]}
    partner = {row["option"]: (row["together_with"], row["row"]) for row in tables["table4-options"]}
    for number, row in tables.lines("table4-options"):
        for token in row["stands_despite"].split():
            gene, _, level = token.partition(":")
            if gene not in genes or level not in ("", "low", "high"):
                raise TableError(path, number, f"stands_despite {token!r}: write GENE or GENE:low / GENE:high")
        if row["stands_despite"] and row["action"] == "seek-access":
            raise TableError(path, number, "an investigational-access option is never prescribed despite resistance")
        other = row["together_with"]
        if other and (partner[other][0] != row["option"] or partner[other][1] != row["row"]):
            raise TableError(path, number, f"together_with {other!r} must name this option back, in the same row")


__all__ = [
    "RESISTANCE_DRUGS",
    "Row",
    "Tables",
    "check_mutations",
    "check_table4",
    "load_tables",
    "mutation_name",
    "natural_key",
    "read_table",
]
