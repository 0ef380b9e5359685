"""Worked examples: what cmvrr recommend concludes for each case, and the guideline section
that says so. Cases live in ontology/examples/cases/ (valid patients, one situation each)."""

from __future__ import annotations

from functools import cache

import pytest

from kg_builder.decisions.decide import recommend_graph
from kg_builder.decisions.model import Recommendation
from kg_builder.paths import EXAMPLES_DIR
from kg_builder.patients.readers import read_patient_file
from kg_builder.report import recommendations_json

CASES = EXAMPLES_DIR / "cases"


@cache
def case(name: str, engine: str = "oxigraph") -> Recommendation:
    [recommendation] = recommend_graph(read_patient_file(CASES / f"{name}.json").graph, engine)
    return recommendation


def offered(rec: Recommendation) -> list[tuple[int, str, str]]:
    return [(option.row, option.action, option.therapy) for option in rec.options]


def excluded(rec: Recommendation) -> set[tuple[str, int | None]]:
    return {(exclusion.therapy, exclusion.row) for exclusion in rec.excluded}


def test_row1_high_level_ul97_switches_to_foscarnet_first() -> None:
    """Table 4 row 1 and FAQ9 (B-III): high-level UL97 resistance -> foscarnet, then cidofovir; the
    patient's ganciclovir is stopped (FAQ9 A-II: switch drug class)."""
    rec = case("row1-high-level-ul97")
    assert rec.table4_rows == (1,)
    assert offered(rec)[:2] == [(1, "start", "foscarnet"), (1, "start", "cidofovir")]
    assert [(o.role, o.therapy) for o in rec.options[:2]] == [("do", "foscarnet"), ("next", "cidofovir")]
    assert [stop.therapy for stop in rec.stop] == ["ganciclovir"]
    assert rec.options[0].grade == ("B-III",)
    assert rec.susceptibility["ganciclovir"].status == "resistant"
    assert rec.susceptibility["valganciclovir"].status == "resistant"  # prodrug (Table 5 column)


def test_row2_low_level_ul97_gives_high_dose_ganciclovir_first() -> None:
    """Table 4 row 2, FAQ9 (B-III): C592G is low-level; ganciclovir 7.5-10 mg/kg q12h if no CMV disease."""
    rec = case("row2-low-level-ul97")
    assert rec.table4_rows == (2,)
    first = rec.options[0]
    assert (first.action, first.therapy, first.condition) == ("optimize", "ganciclovir", "no-cmv-disease")
    assert first.regimen is not None
    assert (first.regimen.min_mg_per_kg, first.regimen.max_mg_per_kg, first.regimen.interval_h) == (7.5, 10.0, 12.0)
    assert any("prescribed despite UL97 C592G" in reason for reason in first.reasons)  # Safety rule 1
    assert "faq9-high-dose-ganciclovir" in first.statements
    # FAQ9 (B-I): G-CSF with high-dose ganciclovir, right after it in the plan.
    assert (rec.options[1].therapy, rec.options[1].role) == ("filgrastim", "consider")
    assert "faq9-filgrastim-high-dose-ganciclovir" in rec.options[1].statements


def test_row2_high_dose_ganciclovir_not_with_cmv_disease() -> None:
    """Table 4 row 2: high-dose ganciclovir only 'if CMV disease not present' (colitis here)."""
    rec = case("row2-low-level-with-colitis")
    assert ("ganciclovir", 2) in excluded(rec)
    assert all(option.therapy != "ganciclovir" for option in rec.options)
    # "Switch to foscarnet or cidofovir": foscarnet first, in the guideline's own order
    assert offered(rec)[:2] == [(2, "start", "foscarnet"), (2, "start", "cidofovir")]
    assert [o.role for o in rec.options[:2]] == ["do", "alternative"]
    # FAQ11 (D-II): IVIG is not recommended for GI disease.
    assert "faq11-ivig-gi-disease" in {advice.statement for advice in rec.advice}


def test_row3_ul54_foscarnet_ganciclovir_switches_to_cidofovir() -> None:
    """Table 4 row 3: UL54 with foscarnet and ganciclovir resistance -> cidofovir first, adjuncts (FAQ12, C-III)."""
    rec = case("row3-ul54-foscarnet-ganciclovir")
    assert rec.table4_rows == (3,)
    assert offered(rec)[0] == (3, "start", "cidofovir")
    adjuncts = [option for option in rec.options if option.therapy in ("artesunate", "leflunomide")]
    # FAQ12 (C-III): optional adjuncts if access to a trial or early access programme is not possible
    assert {o.therapy for o in adjuncts} == {"artesunate", "leflunomide"}
    assert all(o.role == "conditional" for o in adjuncts)


def test_row4_ul54_ganciclovir_cidofovir_continues_foscarnet() -> None:
    """Table 4 row 4: UL54 N408D (ganciclovir + cidofovir, Table 5) -> continue foscarnet."""
    rec = case("row4-ul54-ganciclovir-cidofovir")
    assert rec.table4_rows == (4,)
    assert offered(rec)[0] == (4, "continue", "foscarnet")
    assert rec.susceptibility["cidofovir"].status == "resistant"


def test_row5_ul54_foscarnet_only_switches_to_standard_ganciclovir() -> None:
    """Table 4 row 5: stop foscarnet, start ganciclovir 5 mg/kg q12h."""
    rec = case("row5-ul54-foscarnet-only")
    assert rec.table4_rows == (5,)
    first = rec.options[0]
    assert (first.action, first.therapy) == ("start", "ganciclovir")
    # row 5: "stop foscarnet", which the UL54 mutation defeats
    assert [stop.therapy for stop in rec.stop] == ["foscarnet"]
    assert first.regimen is not None and first.regimen.id == "ganciclovir-standard-dose"


def test_row6_triple_resistance_continues_foscarnet_and_adds_high_dose_ganciclovir() -> None:
    """Table 4 row 6: UL54 D588N defeats all three; continue foscarnet, add high-dose ganciclovir,
    consider G-CSF; both drugs are prescribed despite resistance and say so (Safety rule 1)."""
    rec = case("row6-ul54-triple")
    assert rec.table4_rows == (6,)
    assert offered(rec)[:3] == [(6, "continue", "foscarnet"), (6, "add", "ganciclovir"), (6, "add", "filgrastim")]
    for option in rec.options[:2]:
        assert any("prescribed despite UL54 D588N" in reason for reason in option.reasons)


def test_row7_letermovir_resistance_switches_to_ganciclovir_or_foscarnet() -> None:
    """Table 4 row 7: UL56 C325Y on letermovir prophylaxis -> ganciclovir or foscarnet; UL97/UL54 not
    tested, so their susceptibility is unknown, not 'susceptible' (Safety rule 2)."""
    rec = case("row7-letermovir")
    assert rec.table4_rows == (7,)
    assert {option.therapy for option in rec.options} == {"ganciclovir", "foscarnet"}
    assert rec.susceptibility["letermovir"].status == "resistant"
    assert rec.susceptibility["ganciclovir"].status == "unknown"
    # Table 3: a breakthrough on letermovir (3200 IU/mL) calls for a genotype; it was sent that day
    assert (rec.genotype_testing.verdict, rec.genotype_testing.trigger_date) == ("done", "2025-02-20")
    assert not rec.genotype_testing.indicated


def test_row8_refractory_without_known_resistance() -> None:
    """Table 4 row 8 and FAQ1: 3000 -> 52000 IU/mL after 16 days of ganciclovir (ratio > 10) is refractory."""
    rec = case("wild-type-refractory")
    assert rec.refractory.status == "refractory" and rec.refractory.ratio is not None and rec.refractory.ratio > 10
    assert rec.table4_rows == (8,)
    assert offered(rec)[:2] == [(8, "optimize", "ganciclovir"), (8, "start", "foscarnet")]
    # FAQ6 (A-III): the trigger of 2025-03-17 is answered by the wild-type genotype of the same day
    assert (rec.genotype_testing.verdict, rec.genotype_testing.trigger_date) == ("done", "2025-03-17")
    # Table 3: a wild-type result may miss subpopulations below 25%.
    assert "below 25%" in rec.susceptibility["ganciclovir"].note


def test_probable_refractory_also_opens_row8() -> None:
    """FAQ1: same level or < 1 log10 rise after 2 weeks is probable refractory (ratio 2.4 here)."""
    rec = case("probable-refractory")
    assert rec.refractory.status == "probable-refractory"
    assert rec.table4_rows == (8,)


def test_mixed_ul97_and_ul54_applies_two_rows_and_keeps_foscarnet_out() -> None:
    """Table 4 rows 1 and 3 at once: UL97 M460V (high-level) and UL54 A809V (ganciclovir + foscarnet).
    Row 3 ("± UL97 mutations") decides: cidofovir first, backed by row 1's second line too; row 1's
    first option, foscarnet, is defeated by A809V (Safety rule 1)."""
    rec = case("mixed-ul97-ul54")
    assert rec.table4_rows == (1, 3)
    assert ("foscarnet", 1) in excluded(rec)
    assert all(option.therapy != "foscarnet" for option in rec.options)
    assert offered(rec)[0] == (3, "start", "cidofovir")
    assert rec.options[0].sources == ("table4-row-3-option-1", "table4-row-1-option-2")


def test_maribavir_resistance_mutation_excludes_maribavir() -> None:
    """Table 5: UL97 T409M confers maribavir resistance; maribavir is never offered then."""
    rec = case("maribavir-resistance")
    assert rec.susceptibility["maribavir"].status == "resistant"
    assert ("maribavir", 2) in excluded(rec)
    assert "maribavir" not in {option.therapy for option in rec.options}


def test_cns_disease_excludes_maribavir_and_asks_for_compartment_testing() -> None:
    """FAQ24 (D-II): maribavir does not reach the CNS; FAQ6 (A-III): test the relevant compartment."""
    rec = case("cns-retinitis")
    assert "maribavir" not in {option.therapy for option in rec.options}
    assert ("maribavir", 1) in excluded(rec)
    # Table 2: retinitis is sampled by aqueous or vitreous fluid; only plasma was genotyped
    assert rec.genotype_testing.compartment_advice
    assert any("aqueous fluid or vitreous fluid for retinitis" in reason for reason in rec.genotype_testing.reasons)
    assert {"faq13-cns-disease-expert-management", "faq24-maribavir-cns"} <= {a.statement for a in rec.advice}


def test_unknown_variant_is_uncertain_never_susceptible() -> None:
    """Safety rule 2: UL97 A140V is not in Table 5: uncertain significance, named on ganciclovir's result."""
    rec = case("unknown-variant")
    assert [mutation["mutation"] for mutation in rec.uncertain_mutations] == ["UL97 A140V"]
    assert rec.susceptibility["ganciclovir"].status != "resistant"
    assert "UL97 A140V" in rec.susceptibility["ganciclovir"].note


def test_too_early_is_not_assessable() -> None:
    """FAQ1: refractoriness is judged after at least 2 weeks; 9 days is too early."""
    rec = case("too-early")
    assert (rec.refractory.status, rec.refractory.reason) == ("not-assessable", "too-early")
    assert rec.table4_rows == ()


def test_different_assays_are_not_compared() -> None:
    """FAQ1: viral loads must come from the same assay and laboratory."""
    rec = case("different-assays")
    assert (rec.refractory.status, rec.refractory.reason) == ("not-assessable", "different-assays")
    assert 8 not in rec.table4_rows


def test_responding_patient_is_neither_and_gets_no_genotyping() -> None:
    """FAQ6: testing when viral loads fail to decline by > 1 log10; 25000 -> 900 IU/mL has declined."""
    rec = case("responding")
    assert rec.refractory.status == "neither"
    assert not rec.genotype_testing.indicated


def test_low_level_letermovir_breakthrough_asks_for_an_id_consultation() -> None:
    """FAQ6 (B-III): on letermovir prophylaxis below 1000 IU/mL, consult an ID specialist."""
    rec = case("letermovir-low-level-breakthrough")
    assert not rec.genotype_testing.indicated
    assert any("consultation with an infectious disease specialist" in r for r in rec.genotype_testing.reasons)


def test_letermovir_monotherapy_is_never_an_option() -> None:
    """FAQ9 (D-III): letermovir monotherapy is not recommended for R/R CMV."""
    for name in ("row1-high-level-ul97", "wild-type-refractory", "row7-letermovir"):
        rec = case(name)
        assert "letermovir" not in {option.therapy for option in rec.options}
        assert ("letermovir", None) in excluded(rec)


@pytest.mark.parametrize("name", sorted(path.stem for path in CASES.glob("*.json")))
def test_engines_agree_on_every_case(name: str) -> None:
    assert case(name, "rdflib") == case(name, "oxigraph")


def test_turtle_and_json_give_the_same_answer() -> None:
    """The same patient in Turtle (valid/wild-type-refractory.ttl) and JSON (cases/) gives the same result."""
    [from_turtle] = recommend_graph(read_patient_file(EXAMPLES_DIR / "valid" / "wild-type-refractory.ttl").graph)
    from_json = case("wild-type-refractory")
    assert from_turtle == from_json
    assert recommendations_json([from_turtle]) == recommendations_json([from_json])


def test_each_kind_of_store_is_renewed_on_its_own_and_answers_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision store is made anew after RENEW_AFTER_TRIPLES patient triples (an in-memory
    Oxigraph store slows as graphs come and go); the whole-evidence store of `cmvrr query` counts
    its own, so one's renewal never throws the other away, and a renewed store answers the same."""
    from kg_builder.decisions import engines

    case = read_patient_file(EXAMPLES_DIR / "cases" / "mixed-ul97-ul54.json")
    before = recommendations_json(recommend_graph(case))
    monkeypatch.setattr(engines, "RENEW_AFTER_TRIPLES", 1)
    opened = [engines.OxigraphEngine({}, whole_evidence=True)]
    opened.append(engines.OxigraphEngine(engines.patient_data(case)))  # takes the patient's triples
    opened.append(engines.OxigraphEngine({}))
    opened.append(engines.OxigraphEngine({}, whole_evidence=True))
    for engine in opened:
        engine.close()
    whole, first, renewed, whole_again = (engine.store for engine in opened)
    assert renewed is not first
    assert whole_again is whole  # it took no triples: kept
    assert recommendations_json(recommend_graph(case)) == before
