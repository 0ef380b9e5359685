"""The cmvrr command line. Subcommands stay thin: they parse arguments, call the API, print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import CmvrrError
from .release import FORMATS, write_release

_EPILOG = """\
exit codes: 0 ok, 1 input does not conform (e.g. a curated table row breaks a rule),
2 usage or parse error.

examples:
  cmvrr build --out release/          # the ontology + knowledge graph in four syntaxes
  cmvrr validate ontology/examples/valid/*.json ontology/examples/valid/*.ttl
  cmvrr validate patient.json --format json --reference merlin.fasta
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmvrr",
        description="The ASTCT 2021 guideline on resistant/refractory CMV after HCT, made computable.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cmvrr {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser(
        "build",
        help="build the release (ontology + knowledge graph) from the curated tables",
        description=(
            "Read ontology/*.ttl and ontology/tables/*.tsv, check every curation rule, and write "
            f"{', '.join(FORMATS)} into DIR: the same graph in Turtle, N-Triples, RDF/XML (for OWL "
            "tools) and JSON-LD, byte-identical when rebuilt from the same sources. A table row that "
            "breaks a rule stops the build with file, line and problem, and nothing is written."
        ),
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
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE", help="patient files, any mix of RDF and JSON")
    validate.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    validate.add_argument(
        "--reference",
        type=Path,
        metavar="FASTA",
        help="protein FASTA (header '>GENE ...') to check every mutation position and residue against",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            return _build(args.out, args.format)
        if args.command == "validate":
            return _validate(args.files, args.format, args.reference)
    except CmvrrError as error:
        print(f"cmvrr {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    return 2


def _build(out: Path, report_format: str) -> int:
    import json

    written = write_release(out)
    if report_format == "json":
        print(json.dumps({"written": [str(path) for path in written]}, indent=2))
    else:
        for path in written:
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


def _validate(files: list[Path], report_format: str, reference_path: Path | None) -> int:
    from .report import validation_json, validation_text
    from .validate import read_fasta, validate_files

    reference = read_fasta(reference_path) if reference_path else None
    reports = validate_files(files, reference)
    print(validation_json(reports) if report_format == "json" else validation_text(reports))
    return 0 if all(report.conforms for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
