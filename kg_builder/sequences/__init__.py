"""Sequence data as laboratories send it (FASTA reads and consensus sequences, VCF and VarScan
variant calls against the Merlin reference NC_006273.2), turned into a genotype test of the patient
record: the amino-acid changes in the six resistance genes, with their variant fractions, and the
codons that were actually read (docs/architecture.md, Sequence input).
"""

# Here, not in genotype.py, so that the command line's help can name it without importing the
# readers and the aligner (a fifth of a cold start).
# Calls below this variant fraction (percent) are named but not used. The guideline is silent on
# a threshold (Table 3 only warns that subpopulations below 25% may be missed); NGS labs validate
# theirs, commonly 1-10%, and a 0.5% call at high depth would otherwise stop a working drug. A
# lab's own cut-off replaces it (--min-fraction, or the test's min_fraction).
MIN_FRACTION = 5.0

__all__ = ["MIN_FRACTION"]
