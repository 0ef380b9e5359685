"""Shared fixtures: the built release (once per session) and the reference data of shared/."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from rdflib import Graph

from kg_builder.knowledge.release import write_release
from kg_builder.knowledge.tables import Tables, load_tables

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    write_release(out)
    return out


@pytest.fixture(scope="session")
def release(release_dir: Path) -> Graph:
    return Graph().parse(release_dir / "cmv-rr.ttl", format="turtle")


@pytest.fixture(scope="session")
def tables() -> Tables:
    return load_tables()


def need_on_ci(present: bool, missing: str, *, module: bool = False) -> None:
    """A tool a test needs: on CI its absence fails the test (.ci/run installs it), elsewhere it
    skips (``module``: the whole module). ``missing`` says what is missing and how to get it."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing} (missing on CI)", pytrace=False)
    pytest.skip(missing, allow_module_level=module)


def _require_reference() -> Path:
    if not REFERENCE.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference data missing at {REFERENCE}: CI must provide ../shared")
        pytest.skip(f"reference data not at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def merlin_proteins() -> dict[str, str]:
    """Merlin reference proteins, read from shared/ (checked against, never copied)."""
    sequences: dict[str, str] = {}
    name = ""
    for line in (_require_reference() / "hcmv_merlin_proteins.fasta").read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            sequences[name] = ""
        elif line.strip():
            sequences[name] += line.strip()
    return sequences


@pytest.fixture(scope="session")
def merlin_genes() -> dict[str, dict[str, str]]:
    with (_require_reference() / "hcmv_merlin_proteins.tsv").open() as handle:
        return {row["gene"]: row for row in csv.DictReader(handle, delimiter="\t")}


@pytest.fixture(scope="session")
def herpesdrg_folds() -> dict[tuple[str, str, str], float]:
    """Largest single-mutation EC50 fold change per (gene, aa_change, drug) in HerpesDRG rows with
    virus HCMV and status A; rows that describe a mutation pair (co_aa) are left out."""
    folds: dict[tuple[str, str, str], float] = {}
    with (_require_reference() / "herpesdrg-db.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["virus"] != "HCMV" or row["status"] != "A" or row["co_aa"]:
                continue
            for drug in ("ganciclovir", "foscarnet", "cidofovir", "letermovir", "maribavir"):
                try:
                    fold = float(row[drug.capitalize()])
                except ValueError:
                    fold = 0.0  # blank or a word: the mutation is known, the drug not measured
                key = (row["gene"], row["aa_change"], drug)
                folds[key] = max(fold, folds.get(key, 0.0))
    return folds


@pytest.fixture(scope="session")
def herpesdrg(herpesdrg_folds: dict[tuple[str, str, str], float]) -> set[tuple[str, str]]:
    """(gene, aa_change) pairs HerpesDRG measured on their own."""
    return {(gene, change) for gene, change, _ in herpesdrg_folds}
