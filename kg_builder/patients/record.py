"""The JSON patient record -> a patient-instance graph.

JSON records are first checked against the shipped JSON Schema for structure; ranges and
clinical consistency are left to the SHACL shapes, so Turtle and JSON input meet the same rules.
"""

from __future__ import annotations

import csv
import difflib
import json
import marshal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS

from ..cache import cached_bytes
from ..errors import CmvrrError
from ..paths import TABLES_DIR
from ..terms import CMVRR, number_text, patient_iri, patient_name
from .mutations import MUTATION_CLASS, MutationName, MutationSyntaxError, parse_mutation
from .ntriples import Triple, joined

if TYPE_CHECKING:  # jsonschema is imported only for a record the quick check rejects (a fifth of a cold start)
    import jsonschema

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
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


@cache
def _schema_accepts() -> Callable[[Any], Any]:
    """The schema compiled to Python (fastjsonschema, 7x faster): a quick yes for the records
    that conform. jsonschema stays the judge, and writes the messages, for every record this
    does not accept (tests/test_validate_fuzz.py: it never accepts what jsonschema rejects)."""
    def compiled() -> bytes:
        schema = json.loads(SCHEMA_PATH.read_text())
        schema.pop("$schema")  # the keywords used mean the same in draft 7, which it implements
        code = fastjsonschema.compile_to_code(_inlined(schema, schema.pop("$defs")))
        return marshal.dumps(compile(code, str(SCHEMA_PATH), "exec"))

    # Cached as Python's own code object (35 ms of a cold start to generate and compile), for
    # this very interpreter (marshal's format is its own).
    namespace: dict[str, Any] = {}
    exec(marshal.loads(cached_bytes(f"patient-schema-{sys.implementation.cache_tag}", compiled, ".marshal")), namespace)
    accepts: Callable[[Any], Any] = namespace[_SCHEMA_FUNCTION]
    return accepts


def _inlined(node: Any, definitions: Mapping[str, Any]) -> Any:
    """The schema with each "$ref": "#/$defs/..." replaced by the definition it names: the code
    fastjsonschema writes for a $ref formats the item's path (str.format of all locals) at every
    call, two thirds of the quick check's time (the definitions refer to none, so one pass does)."""
    if isinstance(node, dict):
        reference = node.get("$ref", "")
        if reference.startswith("#/$defs/"):
            return definitions[reference.removeprefix("#/$defs/")]
        return {key: _inlined(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inlined(item, definitions) for item in node]
    return node


_SCHEMA_FUNCTION = "validate_https___w3id_org_cmv_rr_schema_patient_schema_json"  # fastjsonschema names it by $id


def schema_errors(record: Any) -> list[jsonschema.ValidationError]:
    try:
        _schema_accepts()(record)
        return []
    except fastjsonschema.JsonSchemaException:
        return sorted(schema_validator().iter_errors(record), key=lambda e: list(e.absolute_path))


def records_ntriples(data: Any, folder: Path | None = None) -> tuple[bytes, list[InputProblem]]:
    """One JSON record, or a list of them, as N-Triples and the structural problems found: the
    batch's way, without building an rdflib graph (records_graph parses these lines). ``folder``:
    where a genotype test's sequence_files are (the record's own folder; default the working one)."""
    triples, problems = records_triples(data, folder)
    return joined(triples), problems


def records_triples(data: Any, folder: Path | None = None) -> tuple[list[Triple], list[InputProblem]]:
    """records_ntriples' triples as N-Triples terms, before they are joined into lines."""
    records = data if isinstance(data, list) else [data]
    triples: list[Triple] = []
    problems: list[InputProblem] = []
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
        writer = Triples()
        problems += record_triples(writer, record)
        triples += writer.triples
    return triples, problems


def records_graph(data: Any, folder: Path | None = None) -> tuple[Graph, list[InputProblem]]:
    """One JSON record, or a list of them, as a patient graph and the structural problems found."""
    ntriples, problems = records_ntriples(data, folder)
    return ntriples_graph(ntriples), problems


def with_sequence_files(record: Mapping[str, Any], folder: Path) -> Mapping[str, Any]:
    """The record with each genotype test that names sequence_files genotyped from them: the
    files' genes, coverage and mutations join what the test says (its genes_tested: read whole)."""
    tests = record.get("genotype_tests", [])
    if not any("sequence_files" in test for test in tests):
        return record
    # Imported here: reading lab files (alignment, VCF) is a fifth of a cold start's imports,
    # and only a record that names sequence files needs it.
    from ..sequences.genotype import MIN_FRACTION, genotype_block, genotype_files

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


def ntriples_graph(ntriples: bytes) -> Graph:
    """N-Triples as an rdflib graph (the API's and the reference path's graph type)."""
    graph = Graph(store="SimpleMemory")  # no named graphs needed: the faster store
    graph.parse(data=ntriples.decode("utf-8"), format="nt")
    return graph


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


# N-Triples terms: the one spelling of every value of a record in the patient graph. Literals are
# written in the lexical form rdflib keeps when it parses them (numbers in their canonical xsd
# form), so the bytes Oxigraph loads and the rdflib graph say the same (tests/test_record_ntriples.py).
_XSD = "http://www.w3.org/2001/XMLSchema#"
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _iri(text: str) -> str:
    return f"<{text}>"


def _literal(lexical: str, datatype: str) -> str:
    return f'"{lexical.translate(_ESCAPES)}"^^<{_XSD}{datatype}>'


def _string(text: str) -> str:
    return _literal(text, "string")


def _decimal(value: str | int | float) -> str:
    """xsd:decimal in canonical lexical form ("1000.0"), which every RDF syntax writes alike."""
    lexical = f"{value}.0" if type(value) is int else number_text(str(value), "xsd")  # most are whole numbers
    return _literal(lexical, "decimal")


def _integer(value: int) -> str:
    return _literal(str(int(value)), "integer")


def _boolean(value: object) -> str:
    return _literal("true" if value is True or value == "true" else "false", "boolean")


def _date(text: str) -> str:
    """xsd:date; a malformed date stays ill-typed so the shapes report it, never a crash."""
    return _literal(text, "date")


class _Iris:
    """cmvrr: IRIs as plain text, each made once (rdflib's Namespace makes a new URIRef per use,
    a fifth of the time it takes to write a record)."""

    def __getattr__(self, name: str) -> str:
        value = f"{CMVRR}{name}"
        setattr(self, name, value)
        return value


IRI, NS, TYPE, LABEL = _Iris(), str(CMVRR), str(RDF.type), str(RDFS.label)


class Triples:
    """Triples as N-Triples terms: added with subject and predicate IRIs as text, the value an
    N-Triples term (_iri(), _string(), _decimal(), ...); kept as terms, so that the batch path
    need not split its own lines again (ntriples.split_triples gives the same tuples)."""

    def __init__(self) -> None:
        self.triples: list[Triple] = []

    def add(self, subject: str, predicate: str, value: str) -> None:
        self.triples.append((f"<{subject}>", f"<{predicate}>", value))

    def ntriples(self) -> bytes:
        return joined(self.triples)


def record_triples(out: Triples, record: Mapping[str, Any]) -> list[InputProblem]:
    """One record (schema-valid) as triples: THE mapping of the JSON record to the patient graph."""
    patient_id = record["id"]
    patient = patient_iri(patient_id)
    problems: list[InputProblem] = []
    add = out.add
    add(patient, TYPE, _iri(IRI.Patient))
    add(patient, LABEL, _string(f"patient {patient_id}"))
    if "age_years" in record:
        add(patient, IRI.ageYears, _decimal(record["age_years"]))
    if transplant := record.get("transplant"):
        node = f"{patient}/transplant"
        add(patient, IRI.hasTransplant, _iri(node))
        add(node, TYPE, _iri(IRI.Transplant))
        if "donor" in transplant:
            add(node, IRI.hasDonorType, _iri(f"{NS}donor-{transplant['donor']}"))
        if "t_cell_depleted" in transplant:
            add(node, IRI.tCellDepleted, _boolean(transplant["t_cell_depleted"]))
        if "date" in transplant:
            add(node, IRI.transplantDate, _date(transplant["date"]))
    for site in record.get("disease_sites", []):
        add(patient, IRI.hasDiseaseSite, _iri(NS + site))
    for number, course in enumerate(record.get("antivirals", []), start=1):
        unknown = _unknown_therapy(course["drug"], f"/antivirals/{number - 1}/drug", patient_id)
        if unknown:  # reported once, here, with the allowed names; the course says nothing else
            problems.append(unknown)
            continue
        node = f"{patient}/antiviral/{number}"
        add(patient, IRI.hasExposure, _iri(node))
        add(node, TYPE, _iri(IRI.AntiviralExposure))
        add(node, IRI.exposureTherapy, _iri(NS + course["drug"].strip().lower()))
        for key, predicate in (
            ("dose_mg_per_kg", IRI.doseMgPerKg),
            ("dose_mg", IRI.doseMg),
            ("interval_h", IRI.intervalHours),
        ):
            if key in course:
                add(node, predicate, _decimal(course[key]))
        add(node, IRI.startDate, _date(course["start"]))
        if "end" in course:
            add(node, IRI.endDate, _date(course["end"]))
        if "intent" in course:
            add(node, IRI.hasIntent, _iri(f"{NS}intent-{course['intent']}"))
    for number, entry in enumerate(record.get("intolerance", []), start=1):
        unknown = _unknown_therapy(entry["drug"], f"/intolerance/{number - 1}/drug", patient_id)
        if unknown:
            problems.append(unknown)
            continue
        # Table 4 rows 1-2, "If unacceptable drug toxicity": the drug, why, and a note.
        node = f"{patient}/intolerance/{number}"
        add(patient, IRI.hasIntolerance, _iri(node))
        add(node, TYPE, _iri(IRI.DrugIntolerance))
        add(node, IRI.intolerantTo, _iri(NS + entry["drug"].strip().lower()))
        if "reason" in entry:
            add(node, IRI.intoleranceReason, _iri(f"{NS}intolerance-{entry['reason']}"))
        if "note" in entry:
            add(node, IRI.intoleranceNote, _string(entry["note"]))
    for number, load in enumerate(record.get("viral_loads", []), start=1):
        node = f"{patient}/viral-load/{number}"
        add(patient, IRI.hasViralLoad, _iri(node))
        add(node, TYPE, _iri(IRI.ViralLoadMeasurement))
        add(node, IRI.iuPerMl, _decimal(load["iu_per_ml"]))
        add(node, IRI.measuredOn, _date(load["date"]))
        if "specimen" in load:
            add(node, IRI.hasSpecimen, _iri(f"{NS}specimen-{load['specimen']}"))
        if "assay" in load:
            add(node, IRI.assay, _string(load["assay"]))
    for number, test in enumerate(record.get("genotype_tests", []), start=1):
        problems += add_genotype_test(out, patient, f"{patient}/genotype-test/{number}", test, number)
    if factors := record.get("host_factors"):
        node = f"{patient}/host-factors"
        add(patient, IRI.hasHostFactors, _iri(node))
        add(node, TYPE, _iri(IRI.HostFactors))
        for key, predicate in (
            ("gvhd", IRI.hasGVHD),
            ("lymphopenia", IRI.hasLymphopenia),
            ("car_t", IRI.receivedCarT),
            ("scid", IRI.hasSCID),
        ):
            if key in factors:
                add(node, predicate, _boolean(factors[key]))
        if "steroid_mg_per_kg_per_day" in factors:
            add(node, IRI.steroidMgPerKgPerDay, _decimal(factors["steroid_mg_per_kg_per_day"]))
    return problems


def add_genotype_test(
    out: Triples, patient: str, node: str, test: Mapping[str, Any], number: int
) -> list[InputProblem]:
    problems: list[InputProblem] = []
    add = out.add
    add(patient, IRI.hasGenotypeTest, _iri(node))
    add(node, TYPE, _iri(IRI.GenotypeTest))
    add(node, IRI.measuredOn, _date(test["date"]))
    if "specimen" in test:
        add(node, IRI.hasSpecimen, _iri(f"{NS}specimen-{test['specimen']}"))
    if "viral_load_iu_per_ml" in test:
        add(node, IRI.viralLoadAtTesting, _decimal(test["viral_load_iu_per_ml"]))
    genes = [gene.strip().upper() for gene in test.get("genes_tested", ())]
    # A gene partly read is tested there only: its codons read bound "no known resistance"
    # (queries/susceptibility.rq); a gene named in coverage was tested, whether listed or not.
    for gene, ranges in test.get("coverage", {}).items():
        gene = gene.strip().upper()
        genes += [gene] if gene not in genes else []
        for index, piece in enumerate(ranges.split(","), start=1):
            low, high = piece.split("-")
            region = f"{node}/coverage/{gene}/{index}"
            add(node, IRI.hasCoveredRegion, _iri(region))
            add(region, TYPE, _iri(IRI.CoveredRegion))
            add(region, IRI.inGene, _iri(NS + gene))
            add(region, IRI.fromCodon, _integer(int(low)))
            add(region, IRI.toCodon, _integer(int(high)))
    for gene in genes:
        add(node, IRI.geneTested, _iri(NS + gene))
    only_gene = genes[0] if len(genes) == 1 else None
    for index, entry in enumerate(test.get("mutations", []), start=1):
        text, gene = (entry, only_gene) if isinstance(entry, str) else (entry["mutation"], entry.get("gene"))
        try:
            mutation = parse_mutation(text, gene)
        except MutationSyntaxError as error:
            problems.append(
                InputProblem(patient_name(patient), f"/genotype_tests/{number - 1}/mutations/{index - 1}", str(error))
            )
            continue
        detection = f"{node}/detection/{index}"
        add(node, IRI.hasDetection, _iri(detection))
        add(detection, TYPE, _iri(IRI.MutationDetection))
        add(detection, IRI.reportedNotation, _string(text))
        add(detection, IRI.ofMutation, _iri(mutation_triples(out, mutation)))
        if isinstance(entry, dict) and "variant_fraction" in entry:
            add(detection, IRI.variantFraction, _decimal(entry["variant_fraction"]))
        if isinstance(entry, dict) and "read_depth" in entry:
            add(detection, IRI.readDepth, _integer(entry["read_depth"]))
        if isinstance(entry, dict) and "nucleotide_change" in entry:
            add(detection, IRI.nucleotideChange, _string(entry["nucleotide_change"]))
    return problems


def mutation_triples(out: Triples, mutation: MutationName) -> str:
    """The mutation's knowledge-graph IRI, with the facts the shapes check (gene, position,
    residues): a patient's record and the second source describe a mutation alike."""
    node = NS + mutation.local_name
    out.add(node, TYPE, _iri(MUTATION_CLASS[mutation.kind]))
    out.add(node, IRI.inGene, _iri(NS + mutation.gene))
    out.add(node, IRI.aminoAcidPosition, _integer(mutation.position))
    if mutation.kind == "deletion":
        out.add(node, IRI.deletionEnd, _integer(mutation.end))
        return node
    if mutation.ref:  # an insertion written without its flanking residue has none
        out.add(node, IRI.referenceResidue, _string(mutation.ref))
    if mutation.kind == "insertion":
        out.add(node, IRI.insertedResidues, _string(mutation.alt))
    elif mutation.kind != "frameshift":
        out.add(node, IRI.alternativeResidue, _string(mutation.alt))
    return node


def add_record(graph: Graph, record: Mapping[str, Any]) -> list[InputProblem]:
    """record_triples into an rdflib graph (the tests' and the reference path's way)."""
    out = Triples()
    problems = record_triples(out, record)
    graph.parse(data=out.ntriples(), format="nt")
    return problems


def describe_mutation(graph: Graph, mutation: MutationName) -> URIRef:
    """mutation_triples into an rdflib graph (the second source's build)."""
    out = Triples()
    node = mutation_triples(out, mutation)
    graph.parse(data=out.ntriples(), format="nt")
    return URIRef(node)


__all__ = [
    "DISEASE_SITES",
    "DONORS",
    "SCHEMA_PATH",
    "InputProblem",
    "Triples",
    "add_genotype_test",
    "add_record",
    "describe_mutation",
    "mutation_triples",
    "ntriples_graph",
    "record_triples",
    "records_graph",
    "records_ntriples",
    "records_triples",
    "schema_errors",
    "schema_validator",
    "with_sequence_files",
]
