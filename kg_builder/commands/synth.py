"""Seeded synthetic patients (cmvrr synth): realistic mixes of the knowledge graph's genotypes,
viral-load courses, disease sites and now and then an intolerance of the drug being given, as
JSON records that validate.

Not real data and not an epidemiological model: the mixes are chosen to exercise every Table 4
row, both engines and the batch path at cohort scale.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from typing import Any

from ..knowledge.tables import load_tables
from ..patients.record import DISEASE_SITES, DONORS

_START = datetime.date(2025, 1, 1)
_ASSAYS = ["Roche cobas CMV, hospital lab", "Abbott RealTime CMV, reference lab"]
# Unacceptable toxicities of the treatment drugs (Table 4 rows 1-2), by drug.
_TOXICITIES = {
    "ganciclovir": ["myelosuppression"],
    "valganciclovir": ["myelosuppression"],
    "foscarnet": ["nephrotoxicity", "electrolyte-disturbance"],
    "cidofovir": ["nephrotoxicity"],
}
_INTOLERANCE_SHARE = 0.1


def _day(offset: int) -> str:
    return (_START + datetime.timedelta(days=offset)).isoformat()


def synthetic_patients(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``count`` patient records; the same seed gives the same patients."""
    rng = random.Random(seed)
    # Intolerances draw from a stream of their own, so every other field of every patient is
    # what it was before they were added (tests and benchmarks keep their patients).
    toxicity = random.Random(f"intolerance-{seed}")
    mutations = [row for row in load_tables()["mutations"]]
    for number in range(1, count + 1):
        record = _patient(rng, number, mutations)
        if toxicity.random() < _INTOLERANCE_SHARE:
            drug = record["antivirals"][-1]["drug"]
            record["intolerance"] = [{"drug": drug, "reason": toxicity.choice(_TOXICITIES[drug])}]
        yield record


def _patient(rng: random.Random, number: int, mutations: list[dict[str, str]]) -> dict[str, Any]:
    transplant_day = rng.randint(0, 60)
    treatment_start = transplant_day + rng.randint(20, 120)
    drug = rng.choices(["ganciclovir", "valganciclovir", "foscarnet", "cidofovir"], weights=[6, 2, 3, 1])[0]
    baseline = rng.choice([600, 1500, 3000, 8000, 25000, 90000])
    trend = rng.choice([0.02, 0.3, 1.0, 3.0, 15.0, 60.0])  # falling ... rising more than 1 log10
    follow_up_day = treatment_start + rng.choice([7, 14, 15, 21, 28])
    assays = [rng.choice(_ASSAYS)] * 2 if rng.random() < 0.9 else list(_ASSAYS)
    detected = rng.sample(mutations, k=rng.choices([0, 1, 2, 3], weights=[4, 4, 2, 1])[0])
    genes = sorted(
        {row["gene"] for row in detected}
        | set(rng.sample(["UL97", "UL54", "UL56", "UL89", "UL51", "UL27"], k=rng.randint(1, 3)))
    )
    record: dict[str, Any] = {
        "id": f"SYN-{number:06d}",
        "age_years": rng.randint(1, 78),
        "transplant": {"donor": rng.choice(DONORS), "t_cell_depleted": rng.random() < 0.15,
                       "date": _day(transplant_day)},
        "disease_sites": rng.sample(DISEASE_SITES, k=rng.choices([0, 1, 2], weights=[7, 2, 1])[0]),
        "antivirals": [
            {"drug": "letermovir", "dose_mg": 480, "interval_h": 24, "start": _day(transplant_day + 1),
             "end": _day(treatment_start - 5), "intent": "prophylaxis"},
            {"drug": drug, "dose_mg_per_kg": 5 if "ganciclovir" in drug else 60, "interval_h": 12,
             "start": _day(treatment_start), "intent": "treatment"},
        ],
        "viral_loads": [
            {"date": _day(treatment_start - 1), "iu_per_ml": baseline, "specimen": "plasma", "assay": assays[0]},
            {"date": _day(follow_up_day), "iu_per_ml": round(baseline * trend), "specimen": "plasma",
             "assay": assays[1]},
        ],
        "host_factors": {"gvhd": rng.random() < 0.3, "steroid_mg_per_kg_per_day": rng.choice([0, 0.5, 1, 2]),
                         "lymphopenia": rng.random() < 0.4, "car_t": False, "scid": rng.random() < 0.02},
    }  # fmt: skip
    if detected or rng.random() < 0.5:
        record["genotype_tests"] = [{
            "date": _day(follow_up_day), "specimen": "plasma", "genes_tested": genes,
            "viral_load_iu_per_ml": round(baseline * trend),
            "mutations": [f"{row['gene']}:{row['ref']}{row['position']}{row['alt']}" for row in detected],
        }]  # fmt: skip
    return record


__all__ = [
    "synthetic_patients",
]
