"""One source for each curated fact (docs/architecture.md, Knowledge): where a fact must also be
written elsewhere (the JSON Schema's vocabulary, a SHACL message), a test proves the copies agree
with the curated tables, so a curator who changes a table is told what else to change."""

from __future__ import annotations

import json
import re

import pytest
from rdflib.namespace import SH

from kg_builder.checks.validate import patient_shapes
from kg_builder.knowledge.tables import Tables
from kg_builder.patients.record import SCHEMA_PATH
from kg_builder.terms import CMVRR

SCHEMA = json.loads(SCHEMA_PATH.read_text())


def concepts(tables: Tables, prefix: str) -> set[str]:
    return {row["concept"].removeprefix(prefix) for row in tables["concepts"]
            if row["concept"].startswith(prefix) and not row["concept"].endswith("-scheme")}  # fmt: skip


@pytest.mark.parametrize(
    ("schema_path", "source"),
    [
        (("properties", "transplant", "properties", "donor"), "donor-"),
        (("properties", "antivirals", "items", "properties", "intent"), "intent-"),
        (("$defs", "specimen"), "specimen-"),
        (("properties", "disease_sites", "items"), "disease-sites"),
        (("properties", "intolerance", "items", "properties", "reason"), "intolerance-"),
    ],
    ids=["donor", "intent", "specimen", "disease-site", "intolerance-reason"],
)
def test_the_record_vocabulary_is_the_tables(tables: Tables, schema_path: tuple[str, ...], source: str) -> None:
    node = SCHEMA
    for key in schema_path:
        node = node[key]
    if source == "disease-sites":
        # "blood" is Table 2's row for DNAemia itself, not a site of CMV disease a record lists
        curated = {row["site"] for row in tables["disease-sites"]} - {"blood"}
    else:
        curated = concepts(tables, source)
    assert set(node["enum"]) == curated, f"patient.schema.json {'/'.join(schema_path)} and the tables disagree"


@pytest.mark.parametrize(
    ("threshold", "shape"),
    [
        ("genotype-testing-min-viral-load", "GenotypeThresholdWarningShape"),
        ("ul56-testing-min-viral-load", "UL56ThresholdWarningShape"),
    ],
)
def test_a_threshold_in_a_shape_message_is_the_curated_threshold(tables: Tables, threshold: str, shape: str) -> None:
    [row] = [row for row in tables["thresholds"] if row["threshold"] == threshold]
    shapes = patient_shapes()
    [constraint] = shapes.objects(CMVRR[shape], SH.sparql)
    message, select = str(shapes.value(constraint, SH.message)), str(shapes.value(constraint, SH.select))
    assert f"at least {row['value']} IU/mL" in message, f"{shape}'s message does not say {row['value']} IU/mL"
    assert f"cmvrr:{threshold} cmvrr:thresholdValue" in select, f"{shape} does not read {threshold} from the graph"
    assert not re.search(r"FILTER\(\?load < \d", select), f"{shape} compares with a number of its own"


@pytest.mark.parametrize(
    ("shape", "path", "source"),
    [
        ("AntiviralExposureShape", "exposureTherapy", "therapies"),
        ("DrugIntoleranceShape", "intolerantTo", "therapies"),
        ("DrugIntoleranceShape", "intoleranceReason", "intolerance-"),
    ],
    ids=["antiviral-drug", "intolerance-drug", "intolerance-reason"],
)
def test_a_vocabulary_in_a_shape_message_is_the_tables(tables: Tables, shape: str, path: str, source: str) -> None:
    """The messages list the tokens a record may use; the tables are the source of the list."""
    shapes = patient_shapes()
    [constraint] = [c for c in shapes.objects(CMVRR[shape], SH.property) if shapes.value(c, SH.path) == CMVRR[path]]
    message = str(shapes.value(constraint, SH.message))
    curated = {row["therapy"] for row in tables["therapies"]} if source == "therapies" else concepts(tables, source)
    named = set(re.findall(r"[a-z][a-z0-9-]*[a-z0-9]", message.split(":", 1)[-1].split("(", 1)[-1]))
    assert curated <= named, f"{shape} {path}: the message does not name {sorted(curated - named)}"
