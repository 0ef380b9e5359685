"""Sequence data as laboratories send it (FASTA reads and consensus sequences, VCF and VarScan
variant calls against the Merlin reference NC_006273.2), turned into a genotype test of the patient
record: the amino-acid changes in the six resistance genes, with their variant fractions, and the
codons that were actually read (docs/architecture.md, Sequence input).
"""

__all__: list[str] = []
