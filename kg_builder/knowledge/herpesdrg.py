"""HerpesDRG, the second evidence source: measured EC50 fold changes per mutation and drug, kept
apart from the guideline (docs/architecture.md, Second source).

`cmvrr import-herpesdrg FILE` derives the packaged table ``ontology/sources/herpesdrg.tsv`` (one
row per measurement: mutation x drug x publication x assay) and its provenance
``herpesdrg.json`` from a HerpesDRG database file (github.com/ojcharles/herpesdrg-db, MIT
licence). The build reads only the packaged table: an installed package never sees the file it
came from. Rows kept: HCMV, curation status "A", the six genes that carry resistance.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pyoxigraph
from rdflib import Graph, URIRef

from ..cache import cached_bytes
from ..errors import CmvrrError, TableError
from ..paths import SOURCES_DIR, query_path
from ..patients.mutations import MutationName, MutationSyntaxError, normal_form, parse_mutation
from ..patients.record import describe_mutation
from ..terms import (
    CMVRR,
    DCTERMS,
    HERPESDRG_GRAPH,
    KNOWLEDGE_GRAPH,
    OWL,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    decimal,
    en,
    string,
)
from .graph import knowledge_ntriples

TABLE = SOURCES_DIR / "herpesdrg.tsv"
PROVENANCE = SOURCES_DIR / "herpesdrg.json"
MAPPINGS = SOURCES_DIR / "herpesdrg.sssom.tsv"
LICENCE = SOURCES_DIR / "LICENSE-herpesdrg.txt"

GENES = ("UL27", "UL51", "UL54", "UL56", "UL89", "UL97")
# HerpesDRG's drug columns -> the knowledge graph's therapies. Cyclopropavir is filociclovir's
# earlier name (FAQ24). Aciclovir, penciclovir, brivudine, brincidofovir, tomeglovir, amenamevir
# and pritelivir are left out: the guideline names none of them for CMV after HCT.
DRUGS = {
    "Ganciclovir": "ganciclovir",
    "Foscarnet": "foscarnet",
    "Cidofovir": "cidofovir",
    "Letermovir": "letermovir",
    "Maribavir": "maribavir",
    "Cyclopropavir": "filociclovir",
}
# Qualitative entries some rows give instead of a number.
CALLS = {"Resistant": "resistant", "Polymorphism": "polymorphism"}
COLUMNS = (
    "herpesdrg_id", "mutation", "co_mutations", "drug", "fold_change", "call",
    "strain", "generation", "method", "doi", "link", "title",
)  # fmt: skip
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
# Co-mutations the database files under the wrong gene or against another strain's residue,
# found by the curation tests against the Merlin proteins (tests/test_herpesdrg.py).
# Entries 575-577 pair a UL54 mutation with A594V / L595F, classic UL97 mutations; UL54 has D594
# and F595 in Merlin, UL97 A594 and L595: the partner's gene is UL97.
CO_GENE_REPAIRS = {("575", "A594V"): "UL97", ("576", "A594V"): "UL97", ("577", "L595F"): "UL97"}
# Entries whose co-mutation's reference residue is not Merlin's at any gene (UL54 D558E: Merlin
# has E558; UL54 Q738R: Merlin has V738): the combination cannot be placed, so the entry is left
# out (a co-mutation entry never decides a single mutation's call).
# Entry 2086 (UL54 T821I, an enzyme kinetic assay) gives 5.5 under every drug, maribavir and
# cidofovir included: a known quirk (../shared/reference/README.md), not a phenotype.
EXCLUDED = {
    "93": "UL54 D558E: Merlin UL54 has E at 558",
    "438": "UL54 Q738R: Merlin UL54 has V at 738",
    "2086": "UL54 T821I: 5.5 under every drug in one enzyme assay, a known quirk",
}
CITATION = (
    "Charles OJ, Venturini C, Breuer J. HerpesDRG: a comprehensive resource for human herpesvirus antiviral drug "
    "resistance genotyping. BMC Bioinformatics. 2024. doi:10.1186/s12859-024-05885-5"
)


@dataclass(frozen=True)
class Measurement:
    """One EC50 fold change (or qualitative call) of one mutation against one drug, as published."""

    herpesdrg_id: str
    mutation: str  # normal form, GENE:CHANGE
    co_mutations: tuple[str, ...]  # measured together with these: the value describes the combination
    drug: str
    fold_change: float | None
    call: str  # "resistant" / "polymorphism" where the source gives a word, not a number
    strain: str
    generation: str
    method: str
    doi: str
    link: str
    title: str


def _mutations(gene: str, text: str, where: str) -> list[MutationName]:
    """One cell of HerpesDRG mutations ("C539R; F595I", "D981del2", "del590-593") in normal form."""
    names = []
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        try:
            names.append(parse_mutation(part, gene))
        except MutationSyntaxError as error:
            raise CmvrrError(f"{where}: {error}") from error
    return names


def _doi(text: str) -> str:
    doi = re.sub(r"^(?:https?://)?(?:dx\.)?(?:doi\.org/)?", "", text.strip())
    return doi if _DOI.fullmatch(doi) else ""


def derive(source: Path) -> tuple[list[dict[str, str]], dict[str, object]]:
    """The packaged table's rows and provenance, from a HerpesDRG database file."""
    if not source.is_file():
        raise CmvrrError(f"{source}: no such file")
    content = source.read_bytes()
    reader = csv.DictReader(content.decode("utf-8").splitlines(), delimiter="\t")
    needed = {"mutation_id", "virus", "gene", "aa_change", "status", "co_gene", "co_aa", "ref_doi", *DRUGS}
    missing = needed - set(reader.fieldnames or ())
    if missing:
        raise CmvrrError(f"{source}: not a HerpesDRG database file: columns {sorted(missing)} are missing")
    rows: list[dict[str, str]] = []
    read = kept = 0
    latest = ""
    for line, entry in enumerate(reader, start=2):
        read += 1
        if entry["virus"] != "HCMV" or entry["status"].strip() != "A" or entry["gene"] not in GENES:
            continue
        if entry["mutation_id"] in EXCLUDED:
            continue
        where = f"{source}, line {line}"
        primary, *together = _mutations(entry["gene"], entry["aa_change"], where)
        if entry["co_gene"].strip():
            co_gene = CO_GENE_REPAIRS.get((entry["mutation_id"], entry["co_aa"].strip()), entry["co_gene"].strip())
            together += _mutations(co_gene, entry["co_aa"], where)
        values = [(drug, entry[column].strip()) for column, drug in DRUGS.items() if entry[column].strip()]
        if not values:
            continue
        kept += 1
        latest = max(latest, _iso(entry.get("created_date", "")))
        for drug, value in values:
            if not (_NUMBER.fullmatch(value) or value in CALLS):
                raise CmvrrError(f"{where}: {drug} value {value!r} is neither a fold change nor {sorted(CALLS)}")
            rows.append(
                {
                    "herpesdrg_id": entry["mutation_id"],
                    "mutation": str(primary),
                    "co_mutations": " ".join(str(name) for name in together),
                    "drug": drug,
                    "fold_change": value if _NUMBER.fullmatch(value) else "",
                    "call": CALLS.get(value, ""),
                    "strain": _clean(entry.get("genotype", "")),
                    "generation": _clean(entry.get("strain_generation", "")),
                    "method": _clean(entry.get("test_method", "")),
                    "doi": _doi(entry["ref_doi"]),
                    "link": _clean(entry.get("ref_link", "")),
                    "title": _clean(entry.get("ref_title", "")),
                }
            )
    rows.sort(key=lambda row: (row["mutation"], row["drug"], int(row["herpesdrg_id"])))
    provenance: dict[str, object] = {
        "source": "https://github.com/ojcharles/herpesdrg-db",
        "file": source.name,
        "sha256": hashlib.sha256(content).hexdigest(),
        "version": latest,  # the newest entry's creation date: the database has no release numbers
        "licence": "MIT",
        "copyright": "Copyright (c) 2021 Oscar J Charles",
        "citation": CITATION,
        "filter": "virus == HCMV, status == A, gene in " + " ".join(GENES),
        "drugs": DRUGS,
        "co_gene_repairs": {f"{entry} {aa}": gene for (entry, aa), gene in CO_GENE_REPAIRS.items()},
        "entries_excluded": EXCLUDED,
        "entries_read": read,
        "entries_kept": kept,
        "measurements": len(rows),
    }
    return rows, provenance


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _iso(text: str) -> str:
    try:
        return datetime.datetime.strptime(text.strip(), "%d/%m/%Y").date().isoformat()
    except ValueError:
        return ""


def write_derived(source: Path, out_dir: Path = SOURCES_DIR, licence: Path | None = None) -> list[Path]:
    """Write the packaged table, its provenance and the MIT notice; all or none."""
    rows, provenance = derive(source)
    licence = licence or source.with_name("LICENSE-herpesdrg.txt")
    if not licence.is_file():
        raise CmvrrError(f"{licence}: HerpesDRG's MIT licence must travel with its data; give it beside {source}")
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (TABLE.name, PROVENANCE.name, LICENCE.name, MAPPINGS.name)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".importing-") as staging:
        with (Path(staging) / TABLE.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE,
                                    escapechar="\\")  # fmt: skip
            writer.writeheader()
            writer.writerows(rows)
        (Path(staging) / PROVENANCE.name).write_text(json.dumps(provenance, indent=2) + "\n")
        shutil.copyfile(licence, Path(staging) / LICENCE.name)
        (Path(staging) / MAPPINGS.name).write_text(sssom_text(rows, provenance))
        for name in names:
            shutil.move(str(Path(staging) / name), out_dir / name)
    return [out_dir / name for name in names]


SSSOM_COLUMNS = (
    "subject_id", "subject_label", "predicate_id", "object_id", "object_label", "mapping_justification", "comment",
)  # fmt: skip


def sssom_text(rows: list[dict[str, str]], facts: dict[str, object]) -> str:
    """The mapping between the package's mutation IRIs and HerpesDRG's entries (SSSOM TSV with
    its metadata block): skos:exactMatch where an entry measures the mutation alone,
    skos:relatedMatch where it measures it with co-mutations."""
    pairs: dict[tuple[str, str], str] = {}
    for row in rows:
        entry = row["herpesdrg_id"]
        pairs[(row["mutation"], entry)] = "skos:exactMatch" if not row["co_mutations"] else "skos:relatedMatch"
        for other in row["co_mutations"].split():
            pairs.setdefault((other, entry), "skos:relatedMatch")
    header = [
        "#curie_map:",
        "#  cmvrr: https://w3id.org/cmv-rr/",
        "#  herpesdrg: https://github.com/ojcharles/herpesdrg-db#entry-",
        "#  semapv: https://w3id.org/semapv/vocab/",
        "#  skos: http://www.w3.org/2004/02/skos/core#",
        "#mapping_set_id: https://w3id.org/cmv-rr/mappings/herpesdrg.sssom.tsv",
        f'#mapping_set_version: "{facts["version"]}"',
        '#mapping_set_description: "The package\'s mutations and the HerpesDRG entries that measure them (alone,'
        " exactMatch; with co-mutations, relatedMatch), read from HerpesDRG's gene and aa_change into the package's"
        ' normal form by cmvrr import-herpesdrg."',
        '#license: "https://opensource.org/licenses/MIT"',
        "\t".join(SSSOM_COLUMNS),
    ]
    lines = []
    for (mutation, entry), predicate in sorted(pairs.items(), key=lambda item: (item[0][0], int(item[0][1]))):
        name = parse_mutation(mutation)
        label = f"{name.gene} {name.change}"
        lines.append("\t".join((
            f"cmvrr:{name.local_name}", label, predicate, f"herpesdrg:{entry}", f"{label} (HerpesDRG entry {entry})",
            "semapv:LexicalMatching", "gene and aa_change parsed into the normal form",
        )))  # fmt: skip
    return "\n".join(header + lines) + "\n"


def read_measurements(path: Path = TABLE) -> Iterator[Measurement]:
    """The packaged table's measurements; a malformed row names its line."""
    if not path.is_file():
        raise TableError(path, 0, "the packaged HerpesDRG table is missing: run cmvrr import-herpesdrg")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(next(reader, ())) != COLUMNS:
            raise TableError(path, 1, f"header must be exactly {list(COLUMNS)}")
        for line, cells in enumerate(reader, start=2):
            if len(cells) != len(COLUMNS):
                raise TableError(path, line, f"expected {len(COLUMNS)} tab-separated cells, found {len(cells)}")
            row = dict(zip(COLUMNS, cells, strict=True))
            if row["drug"] not in DRUGS.values() or not (row["fold_change"] or row["call"]):
                raise TableError(path, line, "a drug of the guideline and a fold change or call are required")
            yield Measurement(
                herpesdrg_id=row["herpesdrg_id"],
                mutation=row["mutation"],
                co_mutations=tuple(row["co_mutations"].split()),
                drug=row["drug"],
                fold_change=float(row["fold_change"]) if row["fold_change"] else None,
                call=row["call"],
                strain=row["strain"],
                generation=row["generation"],
                method=row["method"],
                doi=row["doi"],
                link=row["link"],
                title=row["title"],
            )


@cache
def measurements() -> tuple[Measurement, ...]:
    return tuple(read_measurements())


@cache
def provenance() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(PROVENANCE.read_text())
    return loaded


DATASET = CMVRR["herpesdrg"]


def mutation_iri(name: str) -> URIRef:
    """The knowledge graph's IRI of a mutation in normal form: Table 5's where it lists it."""
    return CMVRR[parse_mutation(name).local_name]


CALLS_RULE = SOURCES_DIR / "herpesdrg-calls.rq"


@cache
def evidence_graph() -> Graph:
    """HerpesDRG as RDF, for its own named graph and release file: the measurements and the
    resistance calls derived from them where Table 5 is silent (herpesdrg-calls.rq)."""
    return measurement_graph() + calls_graph()


def _store_with(second_source: Graph) -> pyoxigraph.Store:
    """An Oxigraph store with the knowledge graph and ``second_source`` in their named graphs."""
    store = pyoxigraph.Store()
    store.bulk_load(knowledge_ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES,
                    to_graph=pyoxigraph.NamedNode(KNOWLEDGE_GRAPH))  # fmt: skip
    store.bulk_load(second_source.serialize(format="nt", encoding="utf-8"), format=pyoxigraph.RdfFormat.N_TRIPLES,
                    to_graph=pyoxigraph.NamedNode(HERPESDRG_GRAPH))  # fmt: skip
    return store


@cache
def calls_graph() -> Graph:
    """One resistance call per (mutation, drug) that Table 5 leaves open, with the mutations'
    descriptions: what the decision queries read of the second source."""
    triples = _store_with(measurement_graph()).query(CALLS_RULE.read_text())
    calls = Graph()
    for prefix, namespace in PREFIXES.items():
        calls.bind(prefix, namespace, replace=True)
    calls.parse(data=pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES), format="nt")  # type: ignore[arg-type]
    for mutation in set(calls.subjects(CMVRR.hasResistanceAssertion, None)):
        _describe(calls, parse_mutation(normal_form(str(mutation).removeprefix(str(CMVRR)))))
    return calls


# What a decision needs of a call: not the measurements behind it (the release file has them).
_DECISION_EFFECTS = (CMVRR["effect-resistant"], CMVRR["effect-reduced-susceptibility"])


@cache
def decision_slice() -> Graph:
    """The calls that change a decision (resistant, reduced susceptibility) and the mutations they
    are about: what every decision store loads into the HerpesDRG named graph."""
    calls = calls_graph()
    kept = {call for effect in _DECISION_EFFECTS for call in calls.subjects(CMVRR.hasEffect, effect)}
    mutations = {calls.value(call, CMVRR.assertedVariant) for call in kept}
    chosen = Graph()
    for subject, predicate, obj in calls:
        if predicate == PROV.wasDerivedFrom:
            continue
        if subject in kept or (subject in mutations and (predicate != CMVRR.hasResistanceAssertion or obj in kept)):
            chosen.add((subject, predicate, obj))
    return chosen


def decision_slice_ntriples() -> bytes:
    """decision_slice() as N-Triples, from the disk cache when the sources have not changed."""
    return cached_bytes("herpesdrg-decisions", lambda: decision_slice().serialize(format="nt", encoding="utf-8"))


def evidence_ntriples() -> bytes:
    """evidence_graph() as N-Triples, from the disk cache when the sources have not changed."""
    return cached_bytes("herpesdrg-evidence", lambda: evidence_graph().serialize(format="nt", encoding="utf-8"))


@lru_cache(maxsize=1 << 12)  # asked again for every patient with the mutation
def deciding_measurement(mutation: str, drug: str) -> Measurement | None:
    """The measurement of ``mutation`` alone (normal form) against ``drug`` with the highest fold
    change: the one a HerpesDRG call rests on (herpesdrg-calls.rq), for the reason text."""
    measured = "ganciclovir" if drug == "valganciclovir" else drug
    alone = [m for m in measurements() if m.mutation == mutation and m.drug == measured and not m.co_mutations]
    return max(alone, key=lambda m: (m.fold_change or 0, m.call == "resistant"), default=None)


def cited(measurement: Measurement) -> str:
    """How a reason text names a measurement: "12.5-fold ganciclovir, HerpesDRG entry 187, doi:10.1128/..."."""
    value = f"{measurement.fold_change:g}-fold" if measurement.fold_change is not None else measurement.call
    where = f"doi:{measurement.doi}" if measurement.doi else measurement.link
    return f"{value} {measurement.drug}, HerpesDRG entry {measurement.herpesdrg_id}, {where}"


@cache
def conflicts() -> dict[tuple[str, str], dict[str, str]]:
    """queries/source-conflicts.rq's answer by (mutation key, drug), e.g. ("UL54_V781I",
    "ganciclovir"): where Table 5 and HerpesDRG disagree (cached on disk with the build's inputs)."""
    def run() -> bytes:
        solutions = _store_with(evidence_graph()).query(query_path("source-conflicts").read_text())
        names = [variable.value for variable in solutions.variables]  # type: ignore[union-attr]
        rows = [{name: solution[name].value for name in names} for solution in solutions]  # type: ignore[union-attr]
        return json.dumps(rows, indent=1).encode()

    rows = json.loads(cached_bytes("herpesdrg-conflicts", run))
    return {(row["mutation"].removeprefix(str(CMVRR)), row["drug"].removeprefix(str(CMVRR))): row for row in rows}


@cache
def measurement_graph() -> Graph:
    """The measurements: the dataset with its licence, citation and version, every measurement a
    node, and the mutations it names (Table 5's keep their IRIs, so the two sources meet on the
    mutation)."""
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, replace=True)
    facts = provenance()
    graph.add((DATASET, RDF.type, PROV.Entity))
    graph.add((DATASET, RDFS.label, en("HerpesDRG, HCMV resistance phenotypes")))
    graph.add((DATASET, DCTERMS.source, URIRef(str(facts["source"]))))
    graph.add((DATASET, DCTERMS.license, URIRef("https://opensource.org/licenses/MIT")))
    graph.add((DATASET, DCTERMS.rightsHolder, string(str(facts["copyright"]))))
    graph.add((DATASET, DCTERMS.bibliographicCitation, string(str(facts["citation"]))))
    graph.add((DATASET, OWL.versionInfo, string(f"{facts['version']} (sha256 {facts['sha256']})")))
    graph.add((DATASET, RDFS.comment, en(f"Rows of {facts['file']} with {facts['filter']}; imported by cmvrr "
                                         "import-herpesdrg. Not the guideline's assertions: Table 5 decides where it "
                                         "speaks.")))  # fmt: skip
    named: set[str] = set()
    for measurement in measurements():
        node = CMVRR[f"herpesdrg-{measurement.herpesdrg_id}-{measurement.drug}"]
        graph.add((node, RDF.type, CMVRR.PhenotypeMeasurement))
        value = f"{measurement.fold_change:g}-fold" if measurement.fold_change is not None else measurement.call
        together = f" with {', '.join(measurement.co_mutations)}" if measurement.co_mutations else ""
        graph.add((node, RDFS.label, en(f"{measurement.mutation}{together}: {value} {measurement.drug}")))
        graph.add((node, CMVRR.measuredVariant, mutation_iri(measurement.mutation)))
        graph.add((node, CMVRR.measuredAgent, CMVRR[measurement.drug]))
        for other in measurement.co_mutations:
            graph.add((node, CMVRR.measuredWith, mutation_iri(other)))
        if measurement.fold_change is not None:
            graph.add((node, CMVRR.measuredFoldChange, decimal(measurement.fold_change)))
        if measurement.call:
            graph.add((node, CMVRR.reportedPhenotype, string(measurement.call)))
        for predicate, text in ((CMVRR.strainBackground, measurement.strain),
                                (CMVRR.strainGeneration, measurement.generation),
                                (CMVRR.assayMethod, measurement.method),
                                (DCTERMS.bibliographicCitation, measurement.title)):  # fmt: skip
            if text:
                graph.add((node, predicate, string(text)))
        source = f"https://doi.org/{measurement.doi}" if measurement.doi else measurement.link
        if source:
            graph.add((node, DCTERMS.source, URIRef(source)))
        graph.add((node, CMVRR.sourceEntry, string(measurement.herpesdrg_id)))
        graph.add((node, PROV.wasDerivedFrom, DATASET))
        named.update((measurement.mutation, *measurement.co_mutations))
    for name in sorted(named):
        _describe(graph, parse_mutation(name))
    return graph


def _describe(graph: Graph, name: MutationName) -> None:
    """A mutation's type-level facts, as a patient's record gives them, and its label."""
    graph.add((describe_mutation(graph, name), RDFS.label, en(f"{name.gene} {name.change}")))


__all__ = [
    "CITATION",
    "DATASET",
    "DRUGS",
    "GENES",
    "Measurement",
    "calls_graph",
    "cited",
    "conflicts",
    "deciding_measurement",
    "decision_slice",
    "decision_slice_ntriples",
    "derive",
    "evidence_graph",
    "evidence_ntriples",
    "measurement_graph",
    "measurements",
    "mutation_iri",
    "provenance",
    "read_measurements",
    "write_derived",
]
