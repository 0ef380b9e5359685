"""Validation of patient graphs: findings, the SHACL shapes compiled to SPARQL (compiler.py), the
pySHACL reference (shacl.py), chunks of patients that cannot see each other, and the reference
FASTA check.
"""

__all__: list[str] = []
