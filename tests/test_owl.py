"""owlready2 loads cmv-rr.owl; HermiT finds it consistent and classifies the defined classes.

Java runs HermiT. Without Java these tests skip on a developer machine, never under CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import need_on_ci

owlready2 = pytest.importorskip("owlready2")

need_on_ci(shutil.which("java") is not None, "no Java for the HermiT reasoner (.ci/run installs it)", module=True)


@pytest.fixture(scope="module")
def reasoned(release_dir: Path) -> object:
    world = owlready2.World()
    ontology = world.get_ontology((release_dir / "cmv-rr.owl").as_uri()).load()
    with ontology:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)  # raises if inconsistent
    return ontology.get_namespace("https://w3id.org/cmv-rr/")


def _members(namespace: object, cls: str) -> set[str]:
    return {individual.name for individual in namespace[cls].instances()}  # type: ignore[index]


def test_low_level_ganciclovir_class_is_the_faq9_set(reasoned: object) -> None:
    """FAQ9: M460I, C592G, L595W are the low-level UL97 mutations."""
    assert _members(reasoned, "LowLevelGanciclovirResistanceMutation") == {"UL97_M460I", "UL97_C592G", "UL97_L595W"}


def test_triple_resistance_class_is_what_table5_marks_r_r_r(reasoned: object) -> None:
    """Table 5: UL54 mutations with R under ganciclovir, foscarnet and cidofovir (Table 4 row 6)."""
    assert _members(reasoned, "PolymeraseTripleResistanceMutation") == {
        "UL54_D588N",
        "UL54_A834P",
        "UL54_E756K",
        "UL54_G841A",
        "UL54_V812L",
        "UL54_T813S",
    }


def test_multidrug_class_counts_a_prodrug_as_its_parent(reasoned: object) -> None:
    """The canonical UL97 mutations defeat ganciclovir (and so valganciclovir) only: not multidrug."""
    multidrug = _members(reasoned, "MultidrugResistanceMutation")
    assert "UL97_C592G" not in multidrug and "UL97_M460V" not in multidrug
    assert {"UL97_C480F", "UL54_A809V", "UL54_N408D"} <= multidrug  # GCV+MBV; GCV+FOS; GCV+CDV


def test_letermovir_and_cns_classes(reasoned: object) -> None:
    assert "UL51_P91S" in _members(reasoned, "LetermovirResistanceMutation")
    assert _members(reasoned, "CNSDiseaseSite") == {"retinitis", "encephalitis", "ventriculitis"}
