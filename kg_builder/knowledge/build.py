"""Curated tables -> knowledge-graph individuals (the "build" arrow of docs/architecture.md, Data flow).

One function per table. Each fact gets its provenance: the section it is read from, the source
wording, the references it cites and any repair of damaged source text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection

from ..patients.mutations import MUTATION_CLASS
from ..terms import (
    CMVRR,
    DCTERMS,
    GUIDELINE_DOI,
    OBO,
    OWL,
    RDF,
    RDFS,
    SKOS,
    XSD,
    boolean,
    chebi,
    decimal,
    drugbank,
    en,
    integer,
    ncbigene,
    refseq,
    string,
)
from .tables import RESISTANCE_DRUGS, Row, Tables

GUIDELINE = CMVRR["astct-2021-cmv-rr"]
VIRUS = CMVRR["hcmv"]

_THERAPY_CLASS = {
    "antiviral": CMVRR.AntiviralDrug,
    "adjunct-agent": CMVRR.AdjunctAgent,
    "growth-factor": CMVRR.GrowthFactor,
    "immunoglobulin": CMVRR.ImmunoglobulinTherapy,
    "cell-therapy": CMVRR.CellTherapy,
}
_STATE_CLASS = {
    "refractory-cmv-infection": CMVRR.RefractoryCMVInfection,
    "probable-refractory-cmv-infection": CMVRR.ProbableRefractoryCMVInfection,
    "resistant-cmv-infection": CMVRR.ResistantCMVInfection,
    "refractory-cmv-disease": CMVRR.RefractoryCMVDisease,
}
# Table 5 has one column "Ganciclovir/valganciclovir": its R or S holds for both drugs.
_COLUMN_DRUGS = {drug: (drug,) for drug in RESISTANCE_DRUGS} | {"ganciclovir": ("ganciclovir", "valganciclovir")}
# Table 5's footnotes: EC50 fold changes in Lurain & Chou 2010 [116]; a fuller list in Chou 2020 [23].
_TABLE5_REFERENCES = ("23", "116")


def section(key: str) -> URIRef:
    return CMVRR[key]


class _Builder:
    """Adds one table's individuals to the graph; small helpers keep each table function flat."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def add(self, subject: URIRef | BNode, predicate: URIRef, obj: URIRef | Literal | BNode) -> None:
        self.graph.add((subject, predicate, obj))

    def optional(self, subject: URIRef, predicate: URIRef, value: str, make: Callable[[str], URIRef | Literal]) -> None:
        if value:
            self.add(subject, predicate, make(value))

    def each(
        self, subject: URIRef, predicate: URIRef, values: Iterable[str], make: Callable[[str], URIRef | Literal]
    ) -> None:
        for value in values:
            self.add(subject, predicate, make(value))

    def provenance(self, subject: URIRef, row: Row, location: str = "") -> None:
        self.add(subject, CMVRR.inSection, section(location or row["location"]))
        self.add(subject, CMVRR.sourceWording, en(row["source_wording"]))
        self.optional(subject, CMVRR.curationNote, row.get("note", ""), en)
        self.each(subject, CMVRR.citesReference, row.get("references", "").split(), _reference)

    def labelled(self, subject: URIRef, kind: URIRef, label: str) -> None:
        self.add(subject, RDF.type, kind)
        self.add(subject, RDFS.label, en(label))


def _reference(number: str) -> URIRef:
    return CMVRR[f"ref-{number}"]


def _pipe_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(" | ") if item.strip()]


def add_guideline(b: _Builder, tables: Tables) -> None:
    b.labelled(
        GUIDELINE,
        CMVRR.Guideline,
        "ASTCT Series #4: CMV treatment and management of resistant or refractory infections after HCT (2021)",
    )
    b.add(GUIDELINE, DCTERMS.identifier, string(f"doi:{GUIDELINE_DOI}"))
    b.add(GUIDELINE, DCTERMS.source, URIRef(f"https://doi.org/{GUIDELINE_DOI}"))
    b.labelled(VIRUS, CMVRR.Virus, "human cytomegalovirus (human betaherpesvirus 5)")
    b.add(VIRUS, SKOS.exactMatch, OBO.NCBITaxon_10359)
    for number in range(1, 25):
        _add_section(b, f"faq{number}", f"FAQ {number}", number)
    for number in range(1, 6):
        _add_section(b, f"table{number}", f"Table {number}", number)
    _add_section(b, "appendix1", "Appendix 1", 1)
    for row in tables["references"]:
        ref = _reference(row["number"])
        b.labelled(ref, CMVRR.BibliographicReference, f"reference {row['number']}")
        b.add(ref, CMVRR.referenceNumber, integer(row["number"]))
        b.add(ref, DCTERMS.bibliographicCitation, en(row["citation"]))
        b.add(ref, CMVRR.partOfGuideline, GUIDELINE)
        b.optional(ref, DCTERMS.issued, row["year"], lambda year: Literal(year, datatype=XSD.gYear))
        b.optional(ref, RDFS.seeAlso, row["url"], URIRef)
        b.optional(ref, DCTERMS.identifier, row["doi"], lambda doi: string(f"doi:{doi}"))
        b.optional(ref, CMVRR.curationNote, row["note"], en)


def _add_section(b: _Builder, key: str, label: str, number: int) -> None:
    b.labelled(section(key), CMVRR.GuidelineSection, label)
    b.add(section(key), CMVRR.sectionNumber, integer(number))
    b.add(section(key), CMVRR.partOfGuideline, GUIDELINE)


def add_concepts(b: _Builder, tables: Tables) -> None:
    for row in tables["concepts"]:
        concept = CMVRR[row["concept"]]
        if row["class"] == "ConceptScheme":
            b.labelled(concept, SKOS.ConceptScheme, row["label"])
        else:
            b.labelled(concept, CMVRR[row["class"]], row["label"])
            b.add(concept, SKOS.inScheme, CMVRR[row["scheme"]])
            b.add(concept, SKOS.topConceptOf, CMVRR[row["scheme"]])
            b.add(concept, SKOS.prefLabel, en(row["label"]))
            b.add(concept, SKOS.notation, string(row["notation"]))
        b.add(concept, SKOS.definition, en(row["definition"]))


def add_genes(b: _Builder, tables: Tables) -> None:
    for row in tables["genes"]:
        gene = CMVRR[row["gene"]]
        b.labelled(gene, CMVRR.ViralGene, row["label"])
        b.add(gene, SKOS.definition, en(f"HCMV gene {row['gene']}, encoding the {row['protein']}."))
        b.add(gene, CMVRR.ofVirus, VIRUS)
        b.add(gene, CMVRR.proteinLength, integer(row["protein_length"]))
        b.add(gene, CMVRR.refseqProtein, refseq(row["refseq_protein"]))
        b.add(gene, SKOS.exactMatch, ncbigene(row["ncbi_gene_id"]))
        b.provenance(gene, row)


def add_therapies(b: _Builder, tables: Tables) -> None:
    for row in tables["therapies"]:
        therapy = CMVRR[row["therapy"]]
        b.labelled(therapy, _THERAPY_CLASS[row["kind"]], row["label"])
        if row["investigational"] == "true":
            b.add(therapy, RDF.type, CMVRR.InvestigationalAgent)
        b.optional(therapy, SKOS.exactMatch, row["chebi"], chebi)
        b.optional(therapy, SKOS.exactMatch, row["drugbank"], drugbank)
        b.optional(therapy, CMVRR.hasRoute, row["route"], lambda route: CMVRR[f"route-{route}"])
        b.optional(therapy, CMVRR.isProdrugOf, row["prodrug_of"], CMVRR.term)
        b.provenance(therapy, row)
    # Unique names, so that "resistance to at least two antivirals" can count (OWL is open-world).
    members = BNode("therapies-all-different")
    b.add(members, RDF.type, OWL.AllDifferent)
    distinct = BNode("therapies-all-different-members")
    Collection(b.graph, distinct, [CMVRR[row["therapy"]] for row in tables["therapies"]])
    b.add(members, OWL.distinctMembers, distinct)


def add_regimens(b: _Builder, tables: Tables) -> None:
    for row in tables["regimens"]:
        regimen = CMVRR[row["regimen"]]
        b.labelled(regimen, CMVRR.DoseRegimen, row["label"])
        b.add(regimen, CMVRR.regimenOf, CMVRR[row["therapy"]])
        b.optional(regimen, CMVRR.minDoseMgPerKg, row["min_mg_per_kg"], decimal)
        b.optional(regimen, CMVRR.maxDoseMgPerKg, row["max_mg_per_kg"], decimal)
        b.optional(regimen, CMVRR.doseMg, row["dose_mg"], decimal)
        b.add(regimen, CMVRR.intervalHours, decimal(row["interval_h"]))
        b.add(regimen, CMVRR.hasRoute, CMVRR[f"route-{row['route']}"])
        b.add(regimen, CMVRR.isTreatmentMinimum, boolean(row["treatment_minimum"]))
        b.provenance(regimen, row)


def add_mutations(b: _Builder, tables: Tables) -> None:
    residues: set[tuple[str, str, str]] = set()
    for row in tables["mutations"]:
        mutation = CMVRR[row["mutation"]]
        alt = row["alt"]
        b.labelled(mutation, MUTATION_CLASS[row["kind"]], f"{row['gene']} {row['ref']}{row['position']}{alt}")
        b.add(mutation, CMVRR.inGene, CMVRR[row["gene"]])
        b.add(mutation, CMVRR.aminoAcidPosition, integer(row["position"]))
        b.add(mutation, CMVRR.referenceResidue, string(row["ref"]))
        b.add(mutation, CMVRR.alternativeResidue, string(alt))
        b.add(mutation, CMVRR.mostCommonMutation, boolean(row["most_common"]))
        b.provenance(mutation, row, location="table5")
        b.optional(mutation, CMVRR.repairNote, row["repair"], en)
        b.optional(mutation, CMVRR.repairCertainty, row["repair_certainty"], string)
        if row["source_gene"] != row["gene"]:
            b.add(mutation, CMVRR.sourceGene, CMVRR[row["source_gene"]])
        residues.add((row["gene"], row["position"], row["ref"]))
        for column, drugs in _COLUMN_DRUGS.items():
            for drug in drugs if row[column] else ():
                _add_assertion(b, row, mutation, column, drug)
    for gene, position, residue in sorted(residues):
        node = CMVRR[f"{gene}-residue-{position}"]
        b.labelled(node, CMVRR.ReferenceResidue, f"{gene} residue {position} ({residue})")
        b.add(node, CMVRR.inGene, CMVRR[gene])
        b.add(node, CMVRR.aminoAcidPosition, integer(position))
        b.add(node, CMVRR.referenceResidue, string(residue))


def _add_assertion(b: _Builder, row: Row, mutation: URIRef, column: str, drug: str) -> None:
    resistant = row[column] == "R"
    assertion = CMVRR[f"{row['mutation']}-{drug}"]
    effect = "resistant" if resistant else "susceptible"
    b.labelled(
        assertion,
        CMVRR.ResistanceAssertion,
        f"{row['gene']} {row['ref']}{row['position']}{row['alt']}: {effect} to {drug}",
    )
    b.add(assertion, RDF.type, CMVRR.CuratedFact)  # on the guideline's authority (a second source's calls are not)
    b.add(assertion, CMVRR.assertedVariant, mutation)
    b.add(mutation, CMVRR.hasResistanceAssertion, assertion)  # both directions: no reasoner needed
    b.add(assertion, CMVRR.assertedAgent, CMVRR[drug])
    b.add(assertion, CMVRR.hasEffect, CMVRR[f"effect-{effect}"])
    b.add(assertion, CMVRR.hasEvidenceBasis, CMVRR[f"basis-{row['basis']}"])
    b.add(assertion, CMVRR.inSection, section("table5"))
    b.add(assertion, CMVRR.sourceWording, en(row["source_wording"]))
    b.each(assertion, CMVRR.citesReference, _TABLE5_REFERENCES, _reference)
    if column == "ganciclovir" and resistant and row["gcv_level"]:
        b.add(assertion, CMVRR.hasResistanceLevel, CMVRR[f"level-{row['gcv_level']}"])
        b.add(assertion, CMVRR.levelBasis, en(row["level_source"]))
    if drug != column:
        b.add(
            assertion,
            CMVRR.curationNote,
            en(f"Table 5 has one column for ganciclovir/valganciclovir; {drug} is the prodrug of {column}."),
        )
    b.add(mutation, CMVRR.confersResistanceTo if resistant else CMVRR.retainsSusceptibilityTo, CMVRR[drug])
    if resistant:  # the property chain of carriesResistanceTo, materialised: queries need no reasoner
        b.add(CMVRR[row["gene"]], CMVRR.carriesResistanceTo, CMVRR[drug])


def add_table4(b: _Builder, tables: Tables) -> None:
    b.add(
        section("table4"),
        CMVRR.curationNote,
        en("Investigational agents (Table 4 footnote *): maribavir, filociclovir, 3rd party adoptive CMV T-cells."),
    )
    for row in tables["table4-rows"]:
        node = CMVRR[f"table4-row-{row['row']}"]
        b.labelled(node, CMVRR.Table4Row, f"Table 4 row {row['row']}: {row['label']}")
        b.add(node, CMVRR.rowNumber, integer(row["row"]))
        b.each(node, CMVRR.rowGene, row["genes"].split(), CMVRR.term)
        b.each(node, CMVRR.rowResistantTo, row["resistant_to"].split(), CMVRR.term)
        b.each(node, CMVRR.rowNotResistantTo, row["not_resistant_to"].split(), CMVRR.term)
        b.optional(node, CMVRR.rowResistanceLevel, row["gcv_level"], lambda level: CMVRR[f"level-{level}"])
        b.add(node, CMVRR.rowForRefractoryWithoutResistance, boolean(row["refractory_without_resistance"]))
        b.add(node, CMVRR.mergePrecedence, integer(row["precedence"]))
        b.provenance(node, row, location="table4")
        b.add(node, CMVRR.citesReference, _reference("31"))
    for row in tables["table4-options"]:
        option, parent = CMVRR[row["option"]], CMVRR[f"table4-row-{row['row']}"]
        b.labelled(
            option, CMVRR.DecisionOption, f"Table 4 row {row['row']} option {row['rank']}: {row['source_wording']}"
        )
        b.add(parent, CMVRR.hasOption, option)
        b.add(option, CMVRR.optionOf, parent)
        b.add(option, CMVRR.optionRank, integer(row["rank"]))
        b.add(option, CMVRR.hasAction, CMVRR[f"action-{row['action']}"])
        b.add(option, CMVRR.hasModality, CMVRR[f"modality-{row['modality']}"])
        therapies = row["therapies"].split()
        b.each(option, CMVRR.optionTherapy, therapies, CMVRR.term)
        # "foscarnet or cidofovir": the alternatives in the guideline's own order
        sequence = BNode()
        Collection(b.graph, sequence, [CMVRR.term(therapy) for therapy in therapies])
        b.add(option, CMVRR.therapySequence, sequence)
        b.optional(option, CMVRR.optionRegimen, row["regimen"], CMVRR.term)
        b.optional(option, CMVRR.replacesTherapy, row["replaces"], CMVRR.term)
        b.optional(option, CMVRR.appliesWhen, row["condition"], lambda c: CMVRR[f"condition-{c}"])
        b.add(option, CMVRR.prescribedDespiteResistance, boolean(bool(row["stands_despite"])))
        for token in row["stands_despite"].split():
            gene, _, level = token.partition(":")
            clause = CMVRR[f"{row['option']}-despite-{gene}{'-' + level if level else ''}"]
            b.add(option, CMVRR.standsDespite, clause)
            kind = f"{level}-level {gene}" if level else gene
            b.labelled(clause, CMVRR.ResistanceException, f"prescribed despite {kind} resistance")
            b.add(clause, CMVRR.exceptionGene, CMVRR[gene])
            b.optional(clause, CMVRR.exceptionLevel, level, lambda value: CMVRR[f"level-{value}"])
        b.optional(option, CMVRR.givenTogetherWith, row["together_with"], CMVRR.term)
        b.each(option, CMVRR.supportsRecommendation, row["recommendations"].split(), CMVRR.term)
        b.provenance(option, row, location="table4")


def _about(tables: Tables) -> Callable[[str], URIRef]:
    direct = {row["therapy"] for row in tables["therapies"]} | {row["site"] for row in tables["disease-sites"]}
    return lambda token: CMVRR[token] if token in direct else CMVRR[f"topic-{token}"]


def add_recommendations(b: _Builder, tables: Tables) -> None:
    about = _about(tables)
    for row in tables["recommendations"]:
        node = CMVRR[row["id"]]
        b.labelled(node, CMVRR.GradedRecommendation, row["statement"])
        b.add(node, CMVRR.statementText, en(row["statement"]))
        b.add(node, SKOS.notation, string(f"{row['strength']}-{row['evidence']}"))
        b.add(node, CMVRR.hasStrength, CMVRR[f"strength-{row['strength']}"])
        b.add(node, CMVRR.hasEvidenceQuality, CMVRR[f"evidence-{row['evidence']}"])
        b.add(node, CMVRR.hasPolarity, CMVRR[f"polarity-{row['polarity']}"])
        b.add(node, CMVRR.fromQuestion, section(row["faq"]))
        b.each(node, CMVRR.isAbout, row["about"].split(), about)
        b.optional(node, CMVRR.sameStatementAs, row["counterpart"], CMVRR.term)
        b.provenance(node, row, location=row["section"])


def add_definitions(b: _Builder, tables: Tables) -> None:
    for row in tables["definitions"]:
        node = CMVRR[f"faq1-{row['term']}"]
        b.labelled(node, CMVRR.StateDefinition, f"FAQ1 definition of {row['label']}")
        b.add(node, CMVRR.definesState, _STATE_CLASS[row["term"]])
        b.optional(node, CMVRR.minDaysOnTherapy, row["min_days_on_therapy"], integer)
        b.optional(node, CMVRR.minFoldRise, row["min_fold_rise"], decimal)
        b.optional(node, CMVRR.maxFoldRise, row["max_fold_rise"], decimal)
        b.optional(node, CMVRR.sameAssayRequired, row["same_assay_required"], boolean)
        b.provenance(node, row)


def add_thresholds(b: _Builder, tables: Tables) -> None:
    for row in tables["thresholds"]:
        node = CMVRR[row["threshold"]]
        b.labelled(node, CMVRR.Threshold, row["label"])
        b.add(node, CMVRR.measuredQuantity, CMVRR[f"quantity-{row['quantity']}"])
        b.add(node, CMVRR.comparator, string(row["comparator"]))
        b.add(node, CMVRR.thresholdValue, decimal(row["value"]))
        b.add(node, CMVRR.unitLabel, string(row["unit"]))
        b.each(node, CMVRR.appliesToGene, row["genes"].split(), CMVRR.term)
        b.optional(node, CMVRR.appliesToSpecimen, row["specimen"], lambda s: CMVRR[f"specimen-{s}"])
        b.optional(node, CMVRR.supportsRecommendation, row["recommendation"], CMVRR.term)
        b.provenance(node, row)


def add_risk_factors(b: _Builder, tables: Tables) -> None:
    for row in tables["risk-factors"]:
        node = CMVRR[row["id"]]
        b.labelled(node, CMVRR.RiskFactor, row["label"])
        b.add(node, CMVRR.inRiskCategory, CMVRR[f"risk-{row['category']}"])
        b.each(node, CMVRR.example, _pipe_list(row["examples"]), en)
        b.optional(node, CMVRR.patientDataTerm, row["patient_term"], string)
        b.provenance(node, row, location="table1")


def add_disease_sites(b: _Builder, tables: Tables) -> None:
    for row in tables["disease-sites"]:
        node = CMVRR[row["site"]]
        b.labelled(node, CMVRR.DiseaseSite, row["label"])
        b.add(node, CMVRR.inOrganSystem, CMVRR[f"system-{row['system']}"])
        b.each(node, CMVRR.diagnosticSpecimen, row["specimen_tokens"].split(), lambda s: CMVRR[f"specimen-{s}"])
        for column, predicate in (
            ("symptoms", CMVRR.symptom),
            ("diagnostic_procedures", CMVRR.diagnosticProcedure),
            ("specimen_types", CMVRR.specimenDescription),
            ("response_to_treatment", CMVRR.responseToTreatment),
            ("comment", CMVRR.siteComment),
        ):
            b.each(node, predicate, _pipe_list(row[column]), en)
        b.optional(node, CMVRR.findings, row["findings"], en)
        b.provenance(node, row, location="table2")


def add_diagnostics(b: _Builder, tables: Tables) -> None:
    for row in tables["diagnostics"]:
        node = CMVRR[f"diagnostic-{row['method']}"]
        b.labelled(node, CMVRR.DiagnosticMethod, row["label"])
        b.add(node, CMVRR.researchSettingOnly, boolean(row["research_setting"]))
        b.each(node, CMVRR.siteComment, _pipe_list(row["comments"]), en)
        b.each(node, CMVRR.examinesGene, row["genes"].split(), CMVRR.term)
        b.each(node, CMVRR.diagnosticSpecimen, row["specimens"].split(), lambda s: CMVRR[f"specimen-{s}"])
        b.provenance(node, row, location="table3")


def add_advice(b: _Builder, tables: Tables) -> None:
    for row in tables["advice"]:
        node = CMVRR[row["advice"]]
        conditions = row["applies_when"].split()
        b.labelled(node, CMVRR.Advice, f"advice: {row['recommendation']} when {' and '.join(conditions)}")
        b.add(node, CMVRR.adviceStatement, CMVRR[row["recommendation"]])
        b.each(node, CMVRR.adviceAppliesWhen, conditions, lambda condition: CMVRR[f"applies-{condition}"])
        b.optional(node, CMVRR.adviceExcludes, row["excludes"], CMVRR.term)
        b.optional(node, CMVRR.curationNote, row["note"], en)


BUILDERS = (
    add_guideline,
    add_concepts,
    add_genes,
    add_therapies,
    add_regimens,
    add_mutations,
    add_table4,
    add_recommendations,
    add_definitions,
    add_thresholds,
    add_risk_factors,
    add_disease_sites,
    add_diagnostics,
    add_advice,
)


def knowledge_graph(tables: Tables) -> Graph:
    """All individuals the tables define, in one graph."""
    builder = _Builder(Graph())
    for add in BUILDERS:
        add(builder, tables)
    return builder.graph


__all__ = ["GUIDELINE", "VIRUS", "knowledge_graph", "section"]
