"""The JSON patient record -> a patient-instance graph.

JSON records are first checked against the shipped JSON Schema for structure; ranges and
clinical consistency are left to the SHACL shapes, so Turtle and JSON input meet the same rules.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS

from ..errors import CmvrrError
from ..paths import TABLES_DIR
from ..sequences.genotype import MIN_FRACTION, genotype_block, genotype_files
from ..terms import CMVRR, boolean, date, decimal, integer, patient_iri, patient_name, string
from .mutations import MUTATION_CLASS, MutationName, MutationSyntaxError, parse_mutation

SCHEMA_PATH = Path(__file__).with_name("patient.schema.json")
MAX_PROBLEMS = 20  # structural problems listed per record; the rest are counted


@dataclass(frozen=True)
class InputProblem:
    """A structural problem found before SHACL (JSON Schema, mutation notation)."""

    patient: str
    path: str
    message: str


def _schema_enum(*path: str) -> tuple[str, ...]:
    node: Any = json.loads(SCHEMA_PATH.read_text())
    for key in path:
        node = node[key]
    return tuple(node["enum"])


# The vocabulary tokens the JSON record accepts, read from the shipped schema (one source).
DISEASE_SITES = _schema_enum("properties", "disease_sites", "items")
DONORS = _schema_enum("properties", "transplant", "properties", "donor")


@cache
def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


@cache
def _schema_accepts() -> Callable[[Any], Any]:
    """The schema compiled to Python (fastjsonschema, 7x faster): a quick yes for the records
    that conform. jsonschema stays the judge, and writes the messages, for every record this
    does not accept (tests/test_validate_fuzz.py: it never accepts what jsonschema rejects)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    schema.pop("$schema")  # the keywords used mean the same in draft 7, which it implements
    return fastjsonschema.compile(schema)


def schema_errors(record: Any) -> list[jsonschema.ValidationError]:
    try:
        _schema_accepts()(record)
        return []
    except fastjsonschema.JsonSchemaException:
        return sorted(schema_validator().iter_errors(record), key=lambda e: list(e.absolute_path))


def records_graph(data: Any, folder: Path | None = None) -> tuple[Graph, list[InputProblem]]:
    """One JSON record, or a list of them, as a patient graph and the structural problems found.
    ``folder``: where a genotype test's sequence_files are (the record's own folder; default the
    working folder)."""
    records = data if isinstance(data, list) else [data]
    graph, problems = Graph(store="SimpleMemory"), []  # no named graphs needed: the faster store
    for index, record in enumerate(records):
        label = record.get("id", f"record {index + 1}") if isinstance(record, dict) else f"record {index + 1}"
        errors = schema_errors(record)
        if errors:
            problems += [InputProblem(str(label), _pointer(e.absolute_path), _schema_message(e))
                         for e in errors[:MAX_PROBLEMS]]  # fmt: skip
            if len(errors) > MAX_PROBLEMS:
                problems.append(InputProblem(str(label), "/", f"and {len(errors) - MAX_PROBLEMS:,} more problems"))
            continue
        try:
            record = with_sequence_files(record, folder or Path())
        except CmvrrError as error:  # the lab file's own error, naming its file and line
            problems.append(InputProblem(str(label), "/genotype_tests", str(error)))
            continue
        record_problems = list(add_record(graph, record))
        problems += record_problems
    return graph, problems


def with_sequence_files(record: Mapping[str, Any], folder: Path) -> Mapping[str, Any]:
    """The record with each genotype test that names sequence_files genotyped from them: the
    files' genes, coverage and mutations join what the test says (its genes_tested: read whole)."""
    tests = record.get("genotype_tests", [])
    if not any("sequence_files" in test for test in tests):
        return record
    expanded = []
    for test in tests:
        if "sequence_files" not in test:
            expanded.append(test)
            continue
        whole = test.get("genes_tested", ())
        files = [folder / name for name in test["sequence_files"]]
        threshold = test.get("min_fraction", MIN_FRACTION)
        found = genotype_block(genotype_files(files, min_fraction=threshold, genes_read_whole=whole))
        merged = {**found, **test, "genes_tested": sorted({*found["genes_tested"], *whole})}
        merged["coverage"] = {**found["coverage"], **test.get("coverage", {})}
        merged["mutations"] = [*test.get("mutations", []), *found["mutations"]]
        expanded.append(merged)
    return {**record, "genotype_tests": expanded}


def vocabulary() -> dict[str, tuple[str, ...]]:
    """Every word a record may use where a fixed list applies, by field: from the shipped schema
    and the knowledge graph's tables (cmvrr vocab; the README's list is tested against it)."""
    return {
        "antivirals[].drug, intolerance[].drug": therapies(),
        "antivirals[].intent": _schema_enum("properties", "antivirals", "items", "properties", "intent"),
        "intolerance[].reason": _schema_enum("properties", "intolerance", "items", "properties", "reason"),
        "viral_loads[].specimen, genotype_tests[].specimen": _schema_enum("$defs", "specimen"),
        "disease_sites[]": DISEASE_SITES,
        "transplant.donor": DONORS,
        "genotype_tests[].genes_tested[]": _table_column("genes.tsv", "gene"),
    }


@cache
def _table_column(name: str, column: str) -> tuple[str, ...]:
    with (TABLES_DIR / name).open(encoding="utf-8") as table:
        return tuple(sorted(row[column] for row in csv.DictReader(table, delimiter="\t")))


def therapies() -> tuple[str, ...]:
    """The therapy names a record may use: the knowledge graph's (ontology/tables/therapies.tsv)."""
    return _table_column("therapies.tsv", "therapy")


def did_you_mean(value: str, allowed: Sequence[str]) -> str:
    """ "; did you mean 'ganciclovir'?" when one allowed value is close, else ""."""
    close = difflib.get_close_matches(value.strip().lower(), allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown_therapy(value: str, path: str, patient_id: str) -> InputProblem | None:
    if value.strip().lower() in therapies():
        return None
    return InputProblem(
        str(patient_id), path,
        f"{value!r} is not a therapy the knowledge graph knows{did_you_mean(value, therapies())} "
        f"(one of: {', '.join(therapies())})",
    )  # fmt: skip


def _pointer(parts: Any) -> str:
    return "/" + "/".join(str(part) for part in parts)


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return str(error.message).replace("is a required property", "is required here")
    options = error.validator_value if isinstance(error.validator_value, list) else []
    if error.validator == "anyOf" and all(set(option) == {"required"} for option in options):
        names = [repr(name) for option in options for name in option["required"]]
        return f"{' or '.join(names)} is required here"
    if error.validator == "additionalProperties":
        return f"{error.message} (see the record's keys in the README)"
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "enum":
        allowed = [str(value) for value in schema.get("enum", [])]
        hint = did_you_mean(error.instance, allowed) if isinstance(error.instance, str) else ""
        return f"{error.instance!r} is not one of {', '.join(allowed)}{hint}"
    if error.validator == "pattern" and "date" in str(schema.get("description", "")).lower():
        return f"{error.instance!r} is not an ISO 8601 date (YYYY-MM-DD)"
    return str(error.message)


def add_record(graph: Graph, record: Mapping[str, Any]) -> Iterator[InputProblem]:
    patient_id = record["id"]
    patient = patient_iri(patient_id)
    add = graph.add
    add((patient, RDF.type, CMVRR.Patient))
    add((patient, RDFS.label, string(f"patient {patient_id}")))
    if "age_years" in record:
        add((patient, CMVRR.ageYears, decimal(record["age_years"])))
    if transplant := record.get("transplant"):
        node = URIRef(f"{patient}/transplant")
        add((patient, CMVRR.hasTransplant, node))
        add((node, RDF.type, CMVRR.Transplant))
        if "donor" in transplant:
            add((node, CMVRR.hasDonorType, CMVRR[f"donor-{transplant['donor']}"]))
        if "t_cell_depleted" in transplant:
            add((node, CMVRR.tCellDepleted, boolean(transplant["t_cell_depleted"])))
        if "date" in transplant:
            add((node, CMVRR.transplantDate, date(transplant["date"])))
    for site in record.get("disease_sites", []):
        add((patient, CMVRR.hasDiseaseSite, CMVRR[site]))
    for number, course in enumerate(record.get("antivirals", []), start=1):
        unknown = _unknown_therapy(course["drug"], f"/antivirals/{number - 1}/drug", patient_id)
        if unknown:  # reported once, here, with the allowed names; the course says nothing else
            yield unknown
            continue
        node = URIRef(f"{patient}/antiviral/{number}")
        add((patient, CMVRR.hasExposure, node))
        add((node, RDF.type, CMVRR.AntiviralExposure))
        add((node, CMVRR.exposureTherapy, CMVRR[course["drug"].strip().lower()]))
        for key, predicate in (
            ("dose_mg_per_kg", CMVRR.doseMgPerKg),
            ("dose_mg", CMVRR.doseMg),
            ("interval_h", CMVRR.intervalHours),
        ):
            if key in course:
                add((node, predicate, decimal(course[key])))
        add((node, CMVRR.startDate, date(course["start"])))
        if "end" in course:
            add((node, CMVRR.endDate, date(course["end"])))
        if "intent" in course:
            add((node, CMVRR.hasIntent, CMVRR[f"intent-{course['intent']}"]))
    for number, entry in enumerate(record.get("intolerance", []), start=1):
        unknown = _unknown_therapy(entry["drug"], f"/intolerance/{number - 1}/drug", patient_id)
        if unknown:
            yield unknown
            continue
        # Table 4 rows 1-2, "If unacceptable drug toxicity": the drug, why, and a note.
        node = URIRef(f"{patient}/intolerance/{number}")
        add((patient, CMVRR.hasIntolerance, node))
        add((node, RDF.type, CMVRR.DrugIntolerance))
        add((node, CMVRR.intolerantTo, CMVRR[entry["drug"].strip().lower()]))
        if "reason" in entry:
            add((node, CMVRR.intoleranceReason, CMVRR[f"intolerance-{entry['reason']}"]))
        if "note" in entry:
            add((node, CMVRR.intoleranceNote, string(entry["note"])))
    for number, load in enumerate(record.get("viral_loads", []), start=1):
        node = URIRef(f"{patient}/viral-load/{number}")
        add((patient, CMVRR.hasViralLoad, node))
        add((node, RDF.type, CMVRR.ViralLoadMeasurement))
        add((node, CMVRR.iuPerMl, decimal(load["iu_per_ml"])))
        add((node, CMVRR.measuredOn, date(load["date"])))
        if "specimen" in load:
            add((node, CMVRR.hasSpecimen, CMVRR[f"specimen-{load['specimen']}"]))
        if "assay" in load:
            add((node, CMVRR.assay, string(load["assay"])))
    for number, test in enumerate(record.get("genotype_tests", []), start=1):
        yield from add_genotype_test(graph, patient, URIRef(f"{patient}/genotype-test/{number}"), test, number)
    if factors := record.get("host_factors"):
        node = URIRef(f"{patient}/host-factors")
        add((patient, CMVRR.hasHostFactors, node))
        add((node, RDF.type, CMVRR.HostFactors))
        for key, predicate in (
            ("gvhd", CMVRR.hasGVHD),
            ("lymphopenia", CMVRR.hasLymphopenia),
            ("car_t", CMVRR.receivedCarT),
            ("scid", CMVRR.hasSCID),
        ):
            if key in factors:
                add((node, predicate, boolean(factors[key])))
        if "steroid_mg_per_kg_per_day" in factors:
            add((node, CMVRR.steroidMgPerKgPerDay, decimal(factors["steroid_mg_per_kg_per_day"])))


def add_genotype_test(
    graph: Graph, patient: URIRef, node: URIRef, test: Mapping[str, Any], number: int
) -> Iterator[InputProblem]:
    add = graph.add
    add((patient, CMVRR.hasGenotypeTest, node))
    add((node, RDF.type, CMVRR.GenotypeTest))
    add((node, CMVRR.measuredOn, date(test["date"])))
    if "specimen" in test:
        add((node, CMVRR.hasSpecimen, CMVRR[f"specimen-{test['specimen']}"]))
    if "viral_load_iu_per_ml" in test:
        add((node, CMVRR.viralLoadAtTesting, decimal(test["viral_load_iu_per_ml"])))
    genes = [gene.strip().upper() for gene in test.get("genes_tested", ())]
    # A gene partly read is tested there only: its codons read bound "no known resistance"
    # (queries/susceptibility.rq); a gene named in coverage was tested, whether listed or not.
    for gene, ranges in test.get("coverage", {}).items():
        gene = gene.strip().upper()
        genes += [gene] if gene not in genes else []
        for index, piece in enumerate(ranges.split(","), start=1):
            low, high = piece.split("-")
            region = URIRef(f"{node}/coverage/{gene}/{index}")
            add((node, CMVRR.hasCoveredRegion, region))
            add((region, RDF.type, CMVRR.CoveredRegion))
            add((region, CMVRR.inGene, CMVRR[gene]))
            add((region, CMVRR.fromCodon, integer(int(low))))
            add((region, CMVRR.toCodon, integer(int(high))))
    for gene in genes:
        add((node, CMVRR.geneTested, CMVRR[gene]))
    only_gene = genes[0] if len(genes) == 1 else None
    for index, entry in enumerate(test.get("mutations", []), start=1):
        text, gene = (entry, only_gene) if isinstance(entry, str) else (entry["mutation"], entry.get("gene"))
        try:
            mutation = parse_mutation(text, gene)
        except MutationSyntaxError as error:
            yield InputProblem(patient_name(patient), f"/genotype_tests/{number - 1}/mutations/{index - 1}", str(error))
            continue
        detection = URIRef(f"{node}/detection/{index}")
        add((node, CMVRR.hasDetection, detection))
        add((detection, RDF.type, CMVRR.MutationDetection))
        add((detection, CMVRR.reportedNotation, string(text)))
        add((detection, CMVRR.ofMutation, describe_mutation(graph, mutation)))
        if isinstance(entry, dict) and "variant_fraction" in entry:
            add((detection, CMVRR.variantFraction, decimal(entry["variant_fraction"])))
        if isinstance(entry, dict) and "read_depth" in entry:
            add((detection, CMVRR.readDepth, integer(entry["read_depth"])))
        if isinstance(entry, dict) and "nucleotide_change" in entry:
            add((detection, CMVRR.nucleotideChange, string(entry["nucleotide_change"])))


def describe_mutation(graph: Graph, mutation: MutationName) -> URIRef:
    """The mutation's knowledge-graph IRI, with the facts the shapes check (gene, position, residues)."""
    node = CMVRR[mutation.local_name]
    graph.add((node, RDF.type, MUTATION_CLASS[mutation.kind]))
    graph.add((node, CMVRR.inGene, CMVRR[mutation.gene]))
    graph.add((node, CMVRR.aminoAcidPosition, integer(mutation.position)))
    if mutation.kind == "deletion":
        graph.add((node, CMVRR.deletionEnd, integer(mutation.end)))
        return node
    if mutation.ref:  # an insertion written without its flanking residue has none
        graph.add((node, CMVRR.referenceResidue, string(mutation.ref)))
    if mutation.kind == "insertion":
        graph.add((node, CMVRR.insertedResidues, string(mutation.alt)))
    elif mutation.kind != "frameshift":
        graph.add((node, CMVRR.alternativeResidue, string(mutation.alt)))
    return node


__all__ = [
    "DISEASE_SITES",
    "DONORS",
    "SCHEMA_PATH",
    "InputProblem",
    "add_genotype_test",
    "add_record",
    "describe_mutation",
    "records_graph",
    "schema_errors",
    "schema_validator",
    "with_sequence_files",
]
