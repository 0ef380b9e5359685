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
  cmvrr build --out release/ --format json
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            return _build(args.out, args.format)
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


if __name__ == "__main__":
    sys.exit(main())
