"""The JSON output keeps its documented shape (kg_builder/recommendation.schema.json) for every
worked case, and the schema rejects a plan entry without its reasons."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from kg_builder.api import recommend
from kg_builder.paths import EXAMPLES_DIR, PACKAGE_DIR
from kg_builder.report import recommendation_dict

SCHEMA = json.loads((PACKAGE_DIR / "recommendation.schema.json").read_text())
CASES = sorted((EXAMPLES_DIR / "cases").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_case_answers_in_the_documented_shape(case: Path) -> None:
    for recommendation in recommend(case):
        jsonschema.validate(json.loads(json.dumps(recommendation_dict(recommendation))), SCHEMA)


def test_the_schema_rejects_an_option_without_reasons() -> None:
    [recommendation] = recommend(EXAMPLES_DIR / "cases" / "row6-ul54-triple.json")
    data = json.loads(json.dumps(recommendation_dict(recommendation)))
    data["options"][0]["reasons"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


@pytest.mark.parametrize("case", CASES[:20], ids=[case.name for case in CASES[:20]])
def test_the_fast_asdict_gives_what_dataclasses_asdict_gives(case: Path) -> None:
    """report.asdict skips dataclasses.asdict's deep copies and plain values: the same dicts (and
    tuples stay tuples, as dataclasses.asdict keeps them), every nested part of a recommendation."""
    import dataclasses

    from kg_builder.report import asdict

    for recommendation in recommend(case):
        assert asdict(recommendation) == dataclasses.asdict(recommendation)
