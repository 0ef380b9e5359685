"""Curated tables are data under test: one test per curation rule, one case per row.

Messages say what a curator must fix. Reference data is read from ../shared/reference (never
copied into the project; docs/architecture.md, Safety rule 3).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from kg_builder.errors import TableError
from kg_builder.knowledge import specs as specs_module
from kg_builder.knowledge import tables as tables_module
from kg_builder.knowledge.specs import SPECS
from kg_builder.knowledge.tables import RESISTANCE_DRUGS, load_tables

MUTATIONS = [row for _, row in tables_module.read_table(SPECS["mutations"])]
MUTATION_IDS = [row["mutation"] for row in MUTATIONS]


@pytest.mark.parametrize("row", MUTATIONS, ids=MUTATION_IDS)
def test_mutation_position_lies_inside_the_merlin_protein(row: dict[str, str], merlin_proteins: dict[str, str]) -> None:
    length = len(merlin_proteins[row["gene"]])
    assert 1 <= int(row["position"]) <= length, f"{row['mutation']}: position outside {row['gene']} (1-{length})"


@pytest.mark.parametrize("row", MUTATIONS, ids=MUTATION_IDS)
def test_mutation_reference_residue_matches_merlin(row: dict[str, str], merlin_proteins: dict[str, str]) -> None:
    actual = merlin_proteins[row["gene"]][int(row["position"]) - 1]
    assert row["ref"] == actual, (
        f"{row['mutation']}: Merlin {row['gene']} has {actual} at {row['position']}, the table says {row['ref']}; "
        "repair the entry and record the repair"
    )


@pytest.mark.parametrize("row", load_tables()["genes"], ids=lambda row: row["gene"])
def test_gene_facts_match_the_reference(row: dict[str, str], merlin_genes: dict[str, dict[str, str]]) -> None:
    reference = merlin_genes[row["gene"]]
    assert row["protein_length"] == reference["protein_length_aa"]
    assert row["refseq_protein"] == reference["refseq_protein"]
    assert row["ncbi_gene_id"] == reference["ncbi_gene_id"]


def _literal_in_source(row: dict[str, str]) -> bool:
    """Does the Table 5 cell spell this very mutation (alternatives such as L595S/F/W included)?"""
    cell = row["source_wording"].split(" | ")[1] if row["source_wording"].count(" | ") >= 2 else row["source_wording"]
    for token in re.split(r"[ ,]+", cell.replace("*", "")):
        match = re.fullmatch(r"([A-Z])(\d+)((?:[A-Z]/)*[A-Z])", token)
        if match and match.group(1) == row["ref"] and match.group(2) == row["position"]:
            return row["alt"] in match.group(3).split("/")
    return False


@pytest.mark.parametrize("row", MUTATIONS, ids=MUTATION_IDS)
def test_mutation_differing_from_its_source_records_a_repair(row: dict[str, str]) -> None:
    """docs/architecture.md, 'The source text is damaged': every change to the source is on the fact."""
    changed = not _literal_in_source(row) or row["source_gene"] != row["gene"]
    if changed:
        assert row["repair"] and row["repair_certainty"], (
            f"{row['mutation']} differs from the source text: record the repair"
        )


@pytest.mark.parametrize(
    "row",
    [row for row in MUTATIONS if row["repair"] and row["repair_certainty"] == "certain"],
    ids=lambda row: row["mutation"],
)
def test_certain_repairs_are_confirmed_by_herpesdrg(row: dict[str, str], herpesdrg: set[tuple[str, str]]) -> None:
    """A repair called certain must name a mutation an independent database knows."""
    name = f"{row['ref']}{row['position']}{row['alt']}"
    assert (row["gene"], name) in herpesdrg, f"{row['gene']} {name} is not in HerpesDRG: lower the repair certainty"


def test_low_level_ul97_set_is_the_one_of_faq9() -> None:
    """FAQ9 / Table 4 row 2: M460I, C592G, L595W are the low-level UL97 mutations."""
    low = {row["mutation"] for row in MUTATIONS if row["gcv_level"] == "low"}
    assert low == {"UL97_M460I", "UL97_C592G", "UL97_L595W"}


def test_every_mutation_confers_resistance(tables: tables_module.Tables) -> None:
    for row in tables["mutations"]:
        assert "R" in (row[drug] for drug in RESISTANCE_DRUGS), row["mutation"]


def test_table5_count_each_alternative_its_own_mutation() -> None:
    """Table 5: L595S/F/W is three mutations; 72 in all after the repairs."""
    assert {"UL97_L595S", "UL97_L595F", "UL97_L595W"} <= set(MUTATION_IDS)
    assert len(MUTATION_IDS) == 72


@pytest.mark.parametrize("row", load_tables()["disease-sites"], ids=lambda row: row["site"])
def test_cns_flag_agrees_with_organ_system(row: dict[str, str]) -> None:
    """FAQ2 / FAQ24: retinitis, encephalitis, ventriculitis are the CNS sites."""
    assert (row["cns"] == "true") == (row["system"] == "central-nervous-system"), row["site"]


def test_every_appendix_statement_has_a_counterpart_that_points_back(tables: tables_module.Tables) -> None:
    by_id = {row["id"]: row for row in tables["recommendations"]}
    for row in tables["recommendations"]:
        if row["counterpart"]:
            assert by_id[row["counterpart"]]["counterpart"] == row["id"], f"{row['id']}: counterpart link is one-way"
        if row["section"] == "appendix1":
            assert row["counterpart"], f"{row['id']}: link the appendix row to its FAQ statement"


def test_references_are_numbered_1_to_122_without_gaps(tables: tables_module.Tables) -> None:
    assert [int(row["number"]) for row in tables["references"]] == list(range(1, 123))


# ---- the rules themselves: a broken table stops the build with file, line and problem ---------


@pytest.fixture()
def table_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "tables"
    shutil.copytree(specs_module.TABLES_DIR, copy)
    monkeypatch.setattr(specs_module, "TABLES_DIR", copy)
    return copy


def _edit(path: Path, key: str, changes: dict[str, str]) -> None:
    """Set cells of the row whose first cell is ``key``."""
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split("\t")
    for index, line in enumerate(lines):
        cells = line.rstrip("\n").split("\t")
        if cells[0] == key:
            for column, value in changes.items():
                cells[header.index(column)] = value
            lines[index] = "\t".join(cells) + "\n"
    path.write_text("".join(lines))


def _duplicate_line(path: Path, line_number: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(line_number, lines[line_number - 1])
    path.write_text("".join(lines))


def _swap_lines(path: Path, line_number: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[line_number - 1], lines[line_number] = lines[line_number], lines[line_number - 1]
    path.write_text("".join(lines))


BAD_ROWS = {
    "duplicate key": ("mutations", lambda p: _duplicate_line(p, 5), 6, "duplicate mutation"),
    "unsorted": ("mutations", lambda p: _swap_lines(p, 2), 3, "must be sorted"),
    "not a number": ("genes", lambda p: _edit(p, "UL27", {"protein_length": "six hundred"}), 2, "not a whole number"),
    "bad grade": (
        "recommendations",
        lambda p: _edit(p, "faq9-high-dose-ganciclovir", {"strength": "F"}),
        None,
        "'strength'",
    ),
    "unknown drug": (
        "table4-options",
        lambda p: _edit(p, "table4-row-1-option-1", {"therapies": "foscarnett"}),
        2,
        "not a known key of therapies",
    ),
    "position outside protein": (
        "mutations",
        lambda p: _edit(p, "UL27_A406V", {"position": "4060", "mutation": "UL27_A4060V"}),
        None,
        "outside UL27",
    ),
    "residues disagree": (
        "mutations",
        lambda p: _edit(p, "UL56_C325Y", {"ref": "D", "mutation": "UL56_D325Y"}),
        None,
        "UL56 residue 325 is D here but C",
    ),
    "key does not match": ("mutations", lambda p: _edit(p, "UL97_C592G", {"alt": "F"}), None, "should be 'UL97_C592F'"),
}


@pytest.mark.parametrize("case", BAD_ROWS, ids=list(BAD_ROWS))
def test_bad_rows_fail_with_file_line_and_problem(table_copy: Path, case: str) -> None:
    table, break_it, line, expected = BAD_ROWS[case]
    break_it(table_copy / f"{table}.tsv")
    with pytest.raises(TableError) as caught:
        tables_module.check_mutations(load_tables())
    assert caught.value.path.name == f"{table}.tsv"
    assert caught.value.line > 1
    if line is not None:
        assert caught.value.line == line
    assert expected in str(caught.value)


@pytest.mark.parametrize("row", MUTATIONS, ids=MUTATION_IDS)
def test_resistance_claims_are_confirmed_by_herpesdrg_or_flagged(
    row: dict[str, str], herpesdrg_folds: dict[tuple[str, str, str], float]
) -> None:
    """Cross-source check (docs/architecture.md): an R of Table 5 that HerpesDRG does not back at >= 2-fold
    (the low band of its authors) carries a note saying so, for users to weigh."""
    change = f"{row['ref']}{row['position']}{row['alt']}"
    unconfirmed = [
        drug
        for drug in RESISTANCE_DRUGS
        if row[drug] == "R" and herpesdrg_folds.get((row["gene"], change, drug), 0.0) < 2.0
    ]
    if unconfirmed:
        assert "HerpesDRG" in row["note"], f"{row['mutation']}: HerpesDRG does not confirm {unconfirmed}; add a note"
