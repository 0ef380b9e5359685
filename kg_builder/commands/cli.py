"""The cmvrr command line. Subcommands stay thin: they parse arguments, call the API, print."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EXIT_CODES, CmvrrError, RuntimeFailure, Terminated, error_text, shown
from ..knowledge.release import FORMATS, write_release
from ..paths import QUERIES_DIR, SOURCES_DIR
from ..sequences import MIN_FRACTION
from ..version import package_version

_CMVRR = "https://w3id.org/cmv-rr/"
SERVE_PORT = 8765  # not 7878, the oxigraph server's own default
SERVE_TIMEOUT_S = 30.0  # seconds a served query may run

_EXIT_TABLE = "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())

# Each command's --help ends with its own examples (all run as written from the repository's
# root; tests/test_cli.py runs the ones that write nothing outside a temporary folder).
EXAMPLES = {
    "build": ["cmvrr build --out release/          # the ontology + knowledge graph in four syntaxes"],
    "validate": [
        "cmvrr validate ontology/examples/valid/*.json ontology/examples/valid/*.ttl",
        "cmvrr validate ontology/examples/invalid/unknown-drug.json --format json",
        "cmvrr validate ontology/examples/valid/ul97-low-level.json --validator pyshacl   # the reference engine",
    ],
    "recommend": [
        "cmvrr recommend ontology/examples/valid/ul97-low-level.json",
        "cmvrr recommend ontology/examples/sequences/no-genotype.json --genotype "
        "ontology/examples/sequences/ul97-ul54-amplicons.fasta --genotype-date 2025-04-03 --specimen plasma",
        "cmvrr recommend ontology/examples/sequences/with-sequence-files.json   # a record naming its lab files",
        "cmvrr recommend ontology/examples/valid/wild-type-refractory.ttl --format json --engine rdflib",
        "cmvrr recommend ontology/examples/cases/r1-gcv.json --format turtle   # with PROV links",
        "cmvrr recommend --batch cohort.jsonl --out results.jsonl --force",
    ],
    "synth": ["cmvrr synth 1000 --out cohort.jsonl --seed 7"],
    "import-herpesdrg": ["cmvrr import-herpesdrg ../shared/reference/herpesdrg-db.tsv   # rebuild ontology/sources/"],
    "genotype": [
        "cmvrr genotype ontology/examples/sequences/ul97-ul54-amplicons.fasta",
        "cmvrr genotype ontology/examples/sequences/ngs-lofreq.vcf --genes UL97,UL54 --format json",
        "cmvrr genotype ontology/examples/sequences/varscan.tab --min-fraction 2 --date 2025-04-03 --specimen plasma",
    ],
    "import-reference": ["cmvrr import-reference ../shared/reference/   # rebuild ontology/sources/NC_006273.2*"],
    "bench": ["cmvrr bench --sizes 250,1000", "cmvrr bench --sizes 1000,100000 --baseline-sizes 250,1000"],
    "serve": [
        "cmvrr serve --patients ontology/examples/cases/row2-low-level-ul97.json   # http://127.0.0.1:8765/",
        "cmvrr serve --port 9000 --timeout 10",
    ],
    "push": [
        "cmvrr push --endpoint http://127.0.0.1:7878/store --graph https://w3id.org/cmv-rr/graph/knowledge",
        "cmvrr push --endpoint http://localhost:3030/ds/data   # Fuseki, the default graph",
    ],
    "query": [
        "cmvrr query --list",
        "cmvrr query table5-mutations --format csv",
        "cmvrr query susceptibility --patient ontology/examples/valid/mixed-ul97-ul54.json",
        "cmvrr query table4-rows --patient ontology/examples/valid/wild-type-refractory.ttl   # as recommend binds it",
        "cmvrr query cohort-table4-rows --store cohort-db/",
    ],
    "load-cohort": ["cmvrr load-cohort cohort.jsonl --store cohort-db/"],
    "vocab": ["cmvrr vocab", "cmvrr vocab --format json"],
}


def _epilog(command: str | None = None) -> str:
    chosen = EXAMPLES[command] if command else [lines[0] for lines in EXAMPLES.values()]
    return _EXIT_TABLE + "\n\nexamples:\n" + "\n".join(f"  {line}" for line in chosen) + "\n"


def _sources_out(parser: argparse.ArgumentParser) -> None:
    """The --out of the commands that rebuild ontology/sources/ from an outside source."""
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where to write (default: the package's ontology/sources)")  # fmt: skip


def _genotype_options(parser: argparse.ArgumentParser) -> None:
    """The options cmvrr genotype and recommend --genotype share."""
    parser.add_argument("--specimen", default=None, help="the specimen sequenced: plasma, whole-blood, ... "
                        "(default: not stated)")  # fmt: skip
    parser.add_argument("--sample", default=None, metavar="ID", help="the VCF sample column to read "
                        "(default: the only one)")  # fmt: skip
    parser.add_argument("--min-fraction", type=float, default=MIN_FRACTION, metavar="PERCENT",
                        help="calls below this variant fraction are named, not used: the lab's validated "
                        f"cut-off (default {MIN_FRACTION:g})")  # fmt: skip
    parser.add_argument("--genes", default="", metavar="UL97,UL54", help="genes sequenced whole (a variant file "
                        "lists differences only; default: only the codons of its calls count as read)")  # fmt: skip


class _Version(argparse.Action):
    """--version, the version read only when asked for (version.py)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"cmvrr {package_version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmvrr",
        description="The ASTCT 2021 guideline on resistant/refractory CMV after HCT, made computable. "
        "A research and informatics tool, not a medical device: its output does not replace clinical judgement.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser(
        "build",
        help="build the release (ontology + knowledge graph) from the curated tables",
        description=(
            "Read ontology/*.ttl and ontology/tables/*.tsv, check every curation rule, and write "
            f"{', '.join(FORMATS)} into DIR: the same graph in Turtle, N-Triples, RDF/XML (for OWL "
            "tools) and JSON-LD, byte-identical when rebuilt from the same sources; and beside it "
            "cmv-rr-herpesdrg.ttl, the second evidence source (HerpesDRG phenotype measurements, MIT "
            "licence) for its own named graph. A table row that breaks a rule stops the build with "
            "file, line and problem, and nothing is written."
        ),
        epilog=_epilog("build"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the release into")
    build.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    validate = commands.add_parser(
        "validate",
        help="check patient files (Turtle/RDF or the JSON record) against the SHACL shapes",
        description=(
            "Read each FILE (Turtle or another RDF syntax, or a JSON patient record or a JSON list of "
            "records), turn it into a patient graph and check it against ontology/shapes/patient.ttl, "
            "merged with the knowledge graph: types, units, ranges, dates in order, genes tested, "
            "mutation positions inside the protein and reference residues equal to the knowledge "
            "graph's. Warnings mark what the guideline advises against (genotype testing below "
            "1000 IU/mL, viral loads from different assays). Exit 0 when every patient conforms "
            "(warnings allowed), 1 when any does not, 2 when a file cannot be parsed."
        ),
        epilog=_epilog("validate"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE", help="patient files, any mix of RDF and JSON")
    validate.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    validate.add_argument(
        "--validator",
        choices=("oxigraph", "pyshacl"),
        default="oxigraph",
        help="oxigraph: the shapes compiled to SPARQL (fast; default oxigraph); pyshacl: the reference SHACL engine",
    )
    validate.add_argument(
        "--reference",
        type=Path,
        metavar="FASTA",
        help="protein FASTA (header '>GENE ...') to check every mutation position and residue against",
    )
    recommend = commands.add_parser(
        "recommend",
        help="what the guideline says for one patient: susceptibility, refractory status, testing, options",
        description=(
            "Validate PATIENT (Turtle/RDF or the JSON record), then run the packaged SPARQL queries: "
            "per-drug susceptibility (Table 5), refractory status (FAQ1), whether genotype testing is "
            "indicated (FAQ6), the Table 4 rows that apply and their options in the guideline's order, "
            "what must not be offered and why, and the general advice that applies. Every line carries "
            "its reason. A patient that does not conform gets the validation report and exit code 1."
        ),
        epilog=_epilog("recommend"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    recommend.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="PATIENT",
        help="a patient file (Turtle/RDF or JSON); with --batch: files, folders, .jsonl or .nq (one named graph each)",
    )
    recommend.add_argument("--batch", action="store_true", help="many patients: one JSON line each into --out")
    recommend.add_argument("--genotype", nargs="+", type=Path, metavar="FILE", default=None,
                           help="lab sequence files (FASTA, VCF, VarScan) to add as one more genotype test "
                           "(see cmvrr genotype; default: none)")  # fmt: skip
    recommend.add_argument("--genotype-date", metavar="YYYY-MM-DD", help="with --genotype: the specimen's date")
    _genotype_options(recommend)
    recommend.add_argument("--out", type=Path, metavar="DIR|FILE.jsonl", help="with --batch: where the JSON lines go")
    recommend.add_argument("--force", action="store_true", help="with --batch: replace an existing output file")
    recommend.add_argument(
        "--jobs", type=int, default=0, metavar="N", help="with --batch: worker processes (default: 2)"
    )
    recommend.add_argument("--format", choices=("text", "json", "turtle"), default="text", help="output (default text)")
    recommend.add_argument("--engine", choices=("oxigraph", "rdflib"), default="oxigraph",
                           help="SPARQL engine (default oxigraph; rdflib gives the same answers, slower)")  # fmt: skip
    recommend.add_argument(
        "--validator", choices=("oxigraph", "pyshacl"), default="oxigraph",
        help="SHACL engine (default oxigraph; pyshacl: the reference)",
    )
    synth = commands.add_parser(
        "synth",
        help="generate seeded synthetic patients (JSON lines) for tests, batches and benchmarks",
        description="Write COUNT synthetic patient records to FILE.jsonl: genotypes drawn from the knowledge "
        "graph's Table 5, viral-load courses falling to rising more than 1 log10, disease sites. The same "
        "--seed gives the same patients. Not real data.",
        epilog=_epilog("synth"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    synth.add_argument("count", type=int, metavar="COUNT", help="how many patients")
    synth.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl", help="output file")
    synth.add_argument("--force", action="store_true", help="replace an existing output file")
    synth.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    genotype = commands.add_parser(
        "genotype",
        help="a lab's sequence files (FASTA, VCF, VarScan) as a genotype test: mutations, fractions, codons read",
        description="Read Sanger or consensus FASTA (either strand; IUPAC codes as mixtures), VCF 4.0-4.2 or "
        "VarScan2 tables against the Merlin reference NC_006273.2, and report for the six resistance genes "
        "(UL27, UL51, UL54, UL56, UL89, UL97) every amino-acid change (codon, residues, variant fraction, read "
        "depth, consequence) and the codons read. A FASTA record reads the bases it aligns to; a variant file "
        "lists differences only, so it reads the codons of its calls unless --genes names the genes sequenced "
        "whole. The JSON output is the genotype-test block of the patient record (add a date); Turtle is the "
        "same test as RDF. A gene read in part is 'partly tested': no known resistance covers only codons read.",
        epilog=_epilog("genotype"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _genotype_options(genotype)
    genotype.add_argument("files", nargs="+", type=Path, metavar="FILE", help="FASTA, VCF (.vcf, .vcf.gz) or VarScan")
    genotype.add_argument("--format", choices=("text", "json", "turtle"), default="text", help="output (default text)")
    genotype.add_argument("--date", metavar="YYYY-MM-DD", help="the specimen's date (default: none; Turtle needs it)")
    genotype.add_argument("--patient", default="SAMPLE", metavar="ID", help="with --format turtle: the patient id "
                          "the test belongs to (default SAMPLE)")  # fmt: skip
    reference = commands.add_parser(
        "import-reference",
        help="rebuild the packaged Merlin reference (genome, the six genes' CDS) from NC_006273.2 .fasta + .gff3",
        description="Copy NC_006273.2.fasta and derive from NC_006273.2.gff3 the coding parts of UL27, UL51, "
        "UL54, UL56, UL89 (spliced) and UL97 into ontology/sources/ (NC_006273.2.fasta, NC_006273.2-cds.tsv, "
        "NC_006273.2.json with the files' sha256); all or none.",
        epilog=_epilog("import-reference"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reference.add_argument("folder", type=Path, metavar="DIR", help="the folder holding NC_006273.2.fasta and .gff3")
    _sources_out(reference)
    herpesdrg = commands.add_parser(
        "import-herpesdrg",
        help="rebuild the packaged second evidence source from a HerpesDRG database file",
        description="Read a HerpesDRG database file (github.com/ojcharles/herpesdrg-db, herpesdrg-db.tsv) and its "
        "MIT licence beside it, keep the HCMV rows with curation status A in UL27, UL51, UL54, UL56, UL89 and "
        "UL97, and write ontology/sources/herpesdrg.tsv (one row per measurement: mutation, drug, fold change, "
        "strain, method, DOI), herpesdrg.json (source, sha256, version, citation, repairs), the mapping "
        "herpesdrg.sssom.tsv (SSSOM: the package's mutation IRIs and HerpesDRG's entries) and the licence; "
        "all or none. Then run cmvrr build to refresh the release.",
        epilog=_epilog("import-herpesdrg"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    herpesdrg.add_argument("source", type=Path, metavar="FILE.tsv", help="the HerpesDRG database file")
    _sources_out(herpesdrg)
    bench = commands.add_parser(
        "bench",
        help="measure the fast path against a fair baseline (pyshacl + rdflib, used well) in the same run",
        description="Time, in one run: a warm single patient (validate + recommend) beside the baseline (the "
        "knowledge graph built once, queries prepared once, pySHACL over the merged data graph, same patients, "
        "answers checked equal); the batch's CPU per patient beside its floor (the same loads and queries, no "
        "Python shaping); `cmvrr recommend --batch` on synthetic cohorts (wall, CPU and peak memory of all its "
        "processes), the baseline measured at --baseline-sizes and extrapolated elsewhere (labelled); a cold "
        "cmvrr recommend. Each figure with the load average when measured. Defaults take a few minutes.",
        epilog=_epilog("bench"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--sizes", default="250,1000", metavar="N,N", help="batch sizes (default 250,1000)")
    bench.add_argument("--baseline-sizes", default="25", metavar="N,N",
                       help="batch sizes the baseline is measured at (default 25: seconds a patient)")  # fmt: skip
    bench.add_argument("--format", choices=("text", "json"), default="text", help="output (default text)")
    serve = commands.add_parser(
        "serve",
        help="a read-only SPARQL endpoint with the knowledge graph (and patients), on loopback",
        description="Load the release (the default graph and <https://w3id.org/cmv-rr/graph/knowledge>), the "
        "second source and, for each conforming patient of --patients, its data <PATIENT-IRI/graph> and derived "
        "findings <PATIENT-IRI/findings> (as load-cohort stores them) into memory, and serve them read-only over "
        "the SPARQL 1.1 protocol: updates and federated queries (SERVICE) are refused, a query is stopped after "
        "--timeout seconds, and the query page at / runs the packaged queries. Needs pip install 'cmv-rr[serve]'.",
        epilog=_epilog("serve"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback)")
    serve.add_argument("--port", type=int, default=SERVE_PORT,
                       help=f"port (default {SERVE_PORT}; 7878 is the oxigraph server's)")  # fmt: skip
    serve.add_argument("--timeout", type=float, default=SERVE_TIMEOUT_S, metavar="S",
                       help=f"seconds a query may run before it is stopped (default {SERVE_TIMEOUT_S:g})")  # fmt: skip
    serve.add_argument("--patients", nargs="*", type=Path, default=[], metavar="FILE", help="patient files to load")
    push = commands.add_parser(
        "push",
        help="upload the release to a SPARQL 1.1 Graph Store Protocol endpoint",
        description="PUT the release (Turtle) into --graph IRI, or the default graph, of --endpoint "
        "(e.g. http://127.0.0.1:7878/store for Oxigraph, http://localhost:3030/ds/data for Fuseki).",
        epilog=_epilog("push"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    push.add_argument("--endpoint", required=True, metavar="URL", help="the Graph Store Protocol URL")
    push.add_argument("--graph", metavar="IRI", help="named graph to replace (default: the default graph)")
    query = commands.add_parser(
        "query",
        help="run a packaged or your own SPARQL query over the knowledge graph (and a patient)",
        description=(
            "Run NAME (a packaged query: " + ", ".join(sorted(p.stem for p in QUERIES_DIR.glob("*.rq"))) + ") "
            "or FILE.rq. The knowledge graph is the default graph and also the named graph "
            "<https://w3id.org/cmv-rr/graph/knowledge>; with --patient, the patient's graph is named "
            "<PATIENT-IRI/graph> and ?patient and ?patientGraph are bound when the query selects them."
        ),
        epilog=_epilog("query"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    query.add_argument("query", nargs="?", metavar="NAME|FILE.rq", help="packaged query name or a .rq file")
    query.add_argument("--list", action="store_true", help="list the packaged queries, their purpose and inputs")
    query.add_argument("--patient", type=Path, metavar="FILE", help="a patient file to query with")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default table)")
    query.add_argument("--engine", choices=("oxigraph", "rdflib"), default="oxigraph",
                       help="SPARQL engine (default oxigraph)")  # fmt: skip
    query.add_argument("--store", type=Path, metavar="DIR", help="query a cohort store made by cmvrr load-cohort")
    vocab = commands.add_parser(
        "vocab",
        help="the words a JSON record may use where a fixed list applies (drugs, specimens, sites, ...)",
        description="Every field of the JSON record whose value comes from a fixed list, and the list: the "
        "therapies and genes of the knowledge graph, the specimens, disease sites (Table 2), donors, intents "
        "and intolerance reasons of the record's schema. The README's list is this output.",
        epilog=_epilog("vocab"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vocab.add_argument("--format", choices=("text", "json"), default="text", help="output (default text)")
    load_cohort = commands.add_parser(
        "load-cohort",
        help="validate and recommend for a cohort, into an on-disk store for the cohort queries",
        description="Run the decision layer over every patient (as recommend --batch reads them) and store, in "
        "an Oxigraph store at --store DIR, the knowledge graph, each patient's graph and its derived "
        "findings; then `cmvrr query cohort-table4-rows --store DIR` and the other cohort-*.rq queries answer "
        "from those findings.",
        epilog=_epilog("load-cohort"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load_cohort.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="files, folders, .jsonl or .nq")
    load_cohort.add_argument("--store", type=Path, required=True, metavar="DIR", help="a new or empty folder")
    load_cohort.add_argument("--jobs", type=int, default=0, metavar="N", help="worker processes (default: 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Every way out is one line and an exit code (EXIT_CODES), never a
    traceback (set CMVRR_DEBUG=1 to see one). Output into a pipe that the reader closed (`| head`)
    ends quietly, exit 0: the reader took what it wanted (the Python documentation's note on SIGPIPE)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `cmvrr`: the overview, not a usage error
        parser.print_help()
        return 0
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        code = _run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except KeyboardInterrupt:
        print(f"cmvrr {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"cmvrr {args.command}: terminated", file=sys.stderr)
        return 143
    except CmvrrError as error:
        print(f"cmvrr {args.command}: {shown(str(error))}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the machine, not the input: a full disk, a closed socket
        print(f"cmvrr {args.command}: {shown(error_text(error))}", file=sys.stderr)
        return RuntimeFailure.exit_code
    except Exception as error:
        if os.environ.get("CMVRR_DEBUG"):
            raise
        print(f"cmvrr {args.command}: internal error, please report it: {shown(error_text(error))}", file=sys.stderr)
        return RuntimeFailure.exit_code
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _run(args: argparse.Namespace) -> int:
    if args.command == "build":
        return _build(args.out, args.format)
    if args.command == "validate":
        return _validate(args.files, args.format, args.reference, args.validator)
    if args.command == "recommend" and args.batch:
        return _batch(args.inputs, args.out, args.jobs, args.engine, args.force)
    if args.command == "recommend":
        if len(args.inputs) != 1 or args.out:
            raise CmvrrError("give exactly one PATIENT (or use --batch with --out for many)")
        return _recommend(args.inputs[0], args.format, args.engine, args.validator, _genotype_test(args))
    if args.command == "genotype":
        return _genotype(args)
    if args.command == "import-reference":
        from ..sequences.reference import import_reference

        return _written(import_reference(args.folder, args.out or SOURCES_DIR), "text")
    if args.command == "serve":
        from .serve import serve

        return serve(args.host, args.port, args.patients, args.timeout)
    if args.command == "push":
        from .serve import push

        print(push(args.endpoint, args.graph))
        return 0
    if args.command == "bench":
        return _bench(args.sizes, args.baseline_sizes, args.format)
    if args.command == "import-herpesdrg":
        from ..knowledge.herpesdrg import write_derived

        return _written(write_derived(args.source, args.out or SOURCES_DIR), "text")
    if args.command == "synth":
        return _synth(args.count, args.out, args.seed, args.force)
    if args.command == "vocab":
        return _vocab(args.format)
    if args.command == "query" and (args.list or not args.query):
        return _query_list(args.format, listed=args.list)
    if args.command == "query":
        return _query(args.query, args.patient, args.format, args.engine, args.store)
    if args.command == "load-cohort":
        import json

        from .cohort import load_cohort

        summary = load_cohort(args.inputs, args.store, args.jobs)
        print(json.dumps(summary, indent=2), file=sys.stderr)  # a summary, as the batch's: stderr
        return 0 if summary["patients"] == summary.get("ok", 0) else 1
    return 2


def _build(out: Path, report_format: str) -> int:
    return _written(write_release(out), report_format)


def _written(written: list[Path], report_format: str) -> int:
    """What a command wrote: one line per file (text) or the list (json)."""
    import json

    if report_format == "json":
        print(json.dumps({"written": [str(path) for path in written]}, indent=2))
    else:
        for path in written:
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


def _validate(files: list[Path], report_format: str, reference_path: Path | None, validator: str = "oxigraph") -> int:
    from ..checks.reference import read_fasta
    from ..checks.validate import validate_files
    from ..report import validation_json, validation_text

    reference = read_fasta(reference_path) if reference_path else None
    reports = validate_files(files, reference, validator)
    print(validation_json(reports) if report_format == "json" else validation_text(reports))
    return 0 if all(report.conforms for report in reports) else 1


def _genotype_block(args: argparse.Namespace, files: list[Path], date: str | None) -> dict[str, object]:
    from ..api import genotype

    genes = [gene for gene in args.genes.split(",") if gene.strip()]
    test = {"date": date, "specimen": args.specimen}
    return genotype(files, args.sample, args.min_fraction, genes, **test)


def _genotype_test(args: argparse.Namespace) -> dict[str, object] | None:
    if args.genotype is None:
        if args.genotype_date:
            raise CmvrrError("--genotype-date goes with --genotype FILE...")
        return None
    if args.batch:
        raise CmvrrError("--genotype adds a test to one patient; in a batch, name the files in each record "
                         "(genotype_tests[].sequence_files)")  # fmt: skip
    if not args.genotype_date:
        raise CmvrrError("--genotype needs --genotype-date YYYY-MM-DD: a genotype test has the date of its specimen")
    return _genotype_block(args, args.genotype, args.genotype_date)


def _genotype(args: argparse.Namespace) -> int:
    import json

    from ..sequences.genotype import genotype_files, genotype_text

    if args.format == "text":
        genes = [gene for gene in args.genes.split(",") if gene.strip()]
        print(genotype_text(genotype_files(args.files, args.sample, args.min_fraction, genes)))
        return 0
    block = _genotype_block(args, args.files, args.date)
    if args.format == "json":
        print(json.dumps(block, indent=2))
        return 0
    if not args.date:
        raise CmvrrError("--format turtle needs --date YYYY-MM-DD: a genotype test has the date of its specimen")
    from ..patients.record import Triples, add_genotype_test, ntriples_graph
    from ..terms import patient_iri

    out, patient = Triples(), str(patient_iri(args.patient))
    problems = add_genotype_test(out, patient, patient + "/genotype-test/1", block, 1)
    if problems:
        raise CmvrrError("; ".join(f"{p.path}: {p.message}" for p in problems))
    graph = ntriples_graph(out.ntriples())
    graph.bind("cmvrr", _CMVRR)
    print(graph.serialize(format="turtle"))
    return 0


def _recommend(
    path: Path, output: str, engine: str, validator: str = "oxigraph", genotype_test: dict[str, object] | None = None
) -> int:
    from ..api import PatientDoesNotConform, recommend
    from ..report import (
        recommendations_json,
        recommendations_text,
        recommendations_turtle,
        validation_json,
        validation_text,
    )

    try:
        recs = recommend(path, engine, validator, genotype_test)
    except PatientDoesNotConform as rejected:
        if output == "json":
            print(validation_json([rejected.report]))
        else:  # text on stdout; with --format turtle stdout holds Turtle or nothing, the report goes to stderr
            print(validation_text([rejected.report]), file=sys.stdout if output == "text" else sys.stderr)
        return 1
    render = {"json": recommendations_json, "turtle": recommendations_turtle, "text": recommendations_text}[output]
    print(render(recs))
    return 0


def _batch(inputs: list[Path], out: Path | None, jobs: int, engine: str, force: bool) -> int:
    import json

    from .batch import run_batch

    if out is None:
        raise CmvrrError("--batch needs --out DIR or --out FILE.jsonl")
    summary = run_batch(inputs, out, jobs, engine, force)
    print(json.dumps(summary, indent=2), file=sys.stderr)
    return 0 if summary["patients"] == summary.get("ok", 0) else 1


def _bench(sizes: str, baseline_sizes: str, output: str) -> int:
    import json

    from .bench import bench_text, run_bench

    def numbers(text: str, option: str) -> list[int]:
        try:
            return [int(size) for size in text.split(",") if size.strip()]
        except ValueError as error:
            raise CmvrrError(f"{option} takes numbers separated by commas, not {text!r}") from error

    result = run_bench(numbers(sizes, "--sizes"), numbers(baseline_sizes, "--baseline-sizes"))
    print(json.dumps(result, indent=2) if output == "json" else bench_text(result))
    return 0


def _synth(count: int, out: Path, seed: int, force: bool) -> int:
    import json

    from .output import atomic_output
    from .synth import synthetic_patients

    if count < 1:
        raise CmvrrError("COUNT must be at least 1")
    with atomic_output(out, force=force) as staging:
        for record in synthetic_patients(count, seed):
            staging.write(json.dumps(record) + "\n")
    print(f"wrote {count:,} synthetic patients to {out} (seed {seed})")
    return 0


def _query(name: str, patient_path: Path | None, output: str, engine_name: str, store: Path | None = None) -> int:
    from ..patients.readers import read_patient_file
    from .query import run_query, run_store_query

    if store is not None:
        columns, rows = run_store_query(name, store)
    else:
        graph = read_patient_file(patient_path).graph if patient_path else None
        columns, rows = run_query(name, graph, engine_name)
    print(_table(columns, rows, output))
    return 0


def vocab_text() -> str:
    """The README's vocabulary list, as `cmvrr vocab` prints it."""
    from ..patients.record import vocabulary

    lines = [f"- `{field}`: {', '.join(f'`{word}`' for word in words)}" for field, words in vocabulary().items()]
    return "\n".join(lines)


def _vocab(output: str) -> int:
    import json

    from ..patients.record import vocabulary

    print(json.dumps(vocabulary(), indent=2) if output == "json" else vocab_text())
    return 0


def _query_list(output: str, listed: bool) -> int:
    from .query import query_list

    if not listed:
        raise CmvrrError("give a query NAME or FILE.rq, or --list to see the packaged ones")
    rows: list[dict[str, str | None]] = [dict(row) for row in query_list()]
    print(_table(["name", "purpose", "inputs"], rows, output))
    return 0


def _table(columns: list[str], rows: list[dict[str, str | None]], output: str) -> str:
    import csv
    import io
    import json

    if output == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    cells = [[_short(row[column]) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _short(value: str | None) -> str:
    if value is None:
        return ""
    return "cmvrr:" + value[len(_CMVRR) :] if value.startswith(_CMVRR) else value


__all__ = ["main"]
