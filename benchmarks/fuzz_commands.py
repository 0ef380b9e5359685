"""Throw malformed inputs at validate, recommend and recommend --batch; count what goes wrong.

Each input is written to a file and run through the command line in this process (cmvrr's
``main``): a traceback (an exception out of ``main``, or "Traceback" in what it printed), an
exit code outside the table (0, 1, 2, 3), a message that does not name the file, and a batch
whose output has not one line per input line. The inputs: the families of tests/test_robustness.py
(deep nesting, invalid UTF-8, lone surrogates, control characters, huge numbers, odd dates, RDF
the stores cannot hold) and seeded random damage to a good record (a field replaced, bytes
flipped or cut).

Run: python benchmarks/fuzz_commands.py [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_robustness import BAD_LINES, GOOD, RDF_INPUTS
from test_validate_fuzz import _paths

from kg_builder.commands.cli import main

JUNK = [None, True, -1, 1e308, "", "x" * 5000, "\x1b[2J", "\ud800", [], {}, [[[[[]]]]], "2025-02-30", "0000-01-01"]


def damaged(rng: random.Random) -> tuple[str, bytes]:
    """One damaged input: a family member, a record with a field replaced, or flipped bytes."""
    kind = rng.choice(["family", "field", "bytes", "rdf"])
    if kind == "family":
        name = rng.choice(sorted(BAD_LINES))
        return ".json", BAD_LINES[name][0]
    if kind == "rdf":
        name = rng.choice(sorted(RDF_INPUTS))
        return Path(name).suffix, RDF_INPUTS[name][0].encode()
    record = json.loads(json.dumps(GOOD))
    if kind == "field":
        path = rng.choice(_paths(record))
        target = record
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = rng.choice(JUNK)
        return ".json", json.dumps(record).encode("utf-8", errors="surrogatepass")
    data = bytearray(json.dumps(record).encode())
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return ".json", bytes(data[: rng.randint(1, len(data))])


def run(argv: list[str]) -> tuple[int | None, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | None = main(argv)
    except BaseException as error:  # what the old code let out
        return None, f"{out.getvalue()}{err.getvalue()}Traceback: {type(error).__name__}"
    return code, out.getvalue() + err.getvalue()


def main_fuzz() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    tally: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as folder:
        lines = []
        for number in range(options.count):
            suffix, content = damaged(rng)
            path = Path(folder) / f"input-{number}{suffix}"
            path.write_bytes(content)
            if suffix == ".json" and b"\n" not in content and b"\r" not in content:
                lines.append(content)
            for command in ("validate", "recommend"):
                tally["runs"] += 1
                code, printed = run([command, str(path)])
                if code is None or "Traceback" in printed:
                    tally["tracebacks"] += 1
                elif code not in (0, 1, 2, 3):
                    tally["exit codes outside the table"] += 1
                elif code and str(path) not in printed:
                    tally["messages not naming the file"] += 1
        cohort = Path(folder) / "cohort.jsonl"
        cohort.write_bytes(b"".join(line + b"\n" for line in lines))
        code, printed = run(["recommend", "--batch", str(cohort), "--out", str(Path(folder) / "out.jsonl")])
        written = (Path(folder) / "out.jsonl").read_text().count("\n") if (Path(folder) / "out.jsonl").exists() else 0
        expected = sum(1 for line in lines if line.strip())
        tally["batch lines missing"] = expected - written
        tally["batch traceback"] = int(code is None or "Traceback" in printed)
    print(json.dumps({"inputs": options.count, "seed": options.seed, **tally}, indent=2))


if __name__ == "__main__":
    main_fuzz()
