"""Issue 15 figures: cmvrr genotype on a 235 kb consensus genome and on a 100,000-line VCF, warm
(the reference and the aligner loaded), median of repeated runs in one process; made from the
reference with Table 5 mutations planted (tests/sequence_data.py). Times depend on the machine:
read them beside the load average printed with them.

    python benchmarks/bench_genotype.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sequence_data import Variant, fasta, genome_with, planted, vcf

from kg_builder.sequences.genotype import genotype_files

MUTATIONS = ["UL97:M460V", "UL97:C592G", "UL54:A809V", "UL56:C325Y", "UL27:L335P", "UL89:N320H"]


def median_s(path: Path, repeat: int, **options: object) -> tuple[float, int]:
    found = genotype_files([path], **options)  # type: ignore[arg-type]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        genotype_files([path], **options)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
    return statistics.median(times), len(found.mutations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    edits = planted(MUTATIONS)
    with tempfile.TemporaryDirectory() as folder:
        genome = Path(folder) / "genome.fasta"
        genome.write_text(fasta({"consensus": genome_with(edits)}))
        calls = Path(folder) / "calls.vcf"
        variants = [Variant(edit, 40.0) for edit in edits]
        calls.write_text(vcf(variants, "lofreq", noise=100_000 - len(variants)))
        lines = sum(1 for line in calls.read_text().splitlines() if not line.startswith("#"))
        load = os.getloadavg()[0]
        seconds, found = median_s(genome, args.repeat)
        print(f"consensus genome, {genome.stat().st_size / 1000:.0f} kB FASTA: {seconds:.3f} s warm "
              f"(median of {args.repeat}), {found} of {len(MUTATIONS)} planted mutations found")  # fmt: skip
        seconds, found = median_s(calls, args.repeat, genes_read_whole=["UL97", "UL54"])
        print(f"VCF, {lines:,} records ({calls.stat().st_size / 1e6:.1f} MB): {seconds:.3f} s warm "
              f"(median of {args.repeat}), {found} of {len(MUTATIONS)} planted mutations found")  # fmt: skip
        print(f"load average (1 min) at the start: {load:.2f}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
