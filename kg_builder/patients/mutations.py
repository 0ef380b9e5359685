"""Mutation notations as laboratories send them, normalised to one form.

Accepted (case-insensitive): ``UL97:C592G``, ``UL97 C592G``, ``C592G`` with the gene given
separately, HGVS protein notation ``p.Cys592Gly``, ``p.(Cys592Gly)`` and ``p.C592G``, stops as
``*``, ``X`` or ``Ter`` (``C415*``, ``C592X``, ``p.Cys592Ter``), in-frame deletions
``del591-607``, ``p.591_607del``, ``p.Ala591_Cys607del`` and HerpesDRG's ``D981del2`` (two
residues from 981), frameshifts ``C592fs``, ``p.Cys592fs``, ``p.Cys592LeufsTer12`` and
``C592Lfs*12``, and in-frame insertions ``A594_L595insG``, ``p.Ala594_Leu595insGly`` and
``594_595insG``. The normal form is ``GENE:C592G`` / ``GENE:C415*`` / ``GENE:del591-607`` /
``GENE:C592fs`` / ``GENE:A594_595insG``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import CmvrrError
from ..terms import CMVRR

# The ontology class of each kind of mutation: one map for the knowledge graph (Table 5) and for
# patient records alike.
MUTATION_CLASS = {
    "substitution": CMVRR.AminoAcidSubstitution,
    "stop-gain": CMVRR.StopGain,
    "deletion": CMVRR.InframeDeletion,
    "frameshift": CMVRR.Frameshift,
    "insertion": CMVRR.InframeInsertion,
}
THREE_LETTER = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G",
    "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S",
    "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "TER": "*",
}  # fmt: skip
ONE_LETTER = frozenset("ACDEFGHIKLMNPQRSTVWY")

_GENE = r"(?P<gene>UL\d+)"
_SEPARATOR = r"[\s:_]+"
_SUBSTITUTION = re.compile(r"(?:P\.)?\(?(?P<ref>[A-Z])(?P<pos>\d+)(?P<alt>TER|[A-Z*])\)?")
_HGVS_SUBSTITUTION = re.compile(r"P\.\(?(?P<ref>[A-Z]{3})(?P<pos>\d+)(?P<alt>[A-Z]{3}|\*)\)?")
_DELETION = re.compile(r"(?:DEL(?P<start>\d+)(?:-(?P<end>\d+))?)")
_HGVS_DELETION = re.compile(r"P\.\(?(?:[A-Z]{3})?(?P<start>\d+)(?:_(?:[A-Z]{3})?(?P<end>\d+))?DEL\)?")
_COUNTED_DELETION = re.compile(r"(?P<ref>[A-Z])?(?P<start>\d+)DEL(?P<count>\d+)?")  # D981del2, D981del
_AMINO = r"(?:[A-Z]{3}|[A-Z])"  # a residue in three letters or one
_FRAMESHIFT = re.compile(rf"(?:P\.)?\(?(?P<ref>{_AMINO})(?P<pos>\d+)(?P<new>{_AMINO})?FS(?:\*\d+|TER\d+|X\d+)?\)?")
_INSERTION = re.compile(
    rf"(?:P\.)?\(?(?P<ref>{_AMINO})?(?P<pos>\d+)_(?:{_AMINO})?(?P<next>\d+)INS(?P<inserted>(?:{_AMINO})+)\)?"
)
_WITH_GENE = re.compile(rf"{_GENE}{_SEPARATOR}(?P<change>.+)")


class MutationSyntaxError(CmvrrError):
    """A mutation string no accepted notation reads."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class MutationName:
    """One mutation in normal form. ``alt`` is ``*`` for a stop; deletions have ``end``."""

    gene: str
    position: int
    ref: str = ""
    alt: str = ""  # the new residue, "*" for a stop, "fs" for a frameshift, the inserted residues
    end: int = 0  # a deletion's last residue; an insertion's next residue
    inserted: bool = False

    @property
    def kind(self) -> str:
        if self.inserted:
            return "insertion"
        if self.end:
            return "deletion"
        return {"*": "stop-gain", "fs": "frameshift"}.get(self.alt, "substitution")

    def __str__(self) -> str:
        return f"{self.gene}:{self.change}"

    @property
    def change(self) -> str:
        if self.kind == "deletion":
            return f"del{self.position}" + (f"-{self.end}" if self.end != self.position else "")
        if self.kind == "insertion":
            return f"{self.ref}{self.position}_{self.end}ins{self.alt}"
        return f"{self.ref}{self.position}{self.alt}"

    @property
    def local_name(self) -> str:
        """The knowledge graph's key: UL97_C592G, UL27_C415stop, UL97_del591-607."""
        change = self.change.replace("*", "stop")
        return f"{self.gene}_{change}"


def normal_form(local_name: str) -> str:
    """The knowledge graph's key back to the normal form: UL97_C592G -> UL97:C592G,
    UL27_C415stop -> UL27:C415*, UL97_A594_595insG -> UL97:A594_595insG."""
    return local_name.replace("_", ":", 1).replace("stop", "*")


def shown_name(local_name: str) -> str:
    """How reports name a mutation from its key: UL97_C592G -> "UL97 C592G"."""
    return normal_form(local_name).replace(":", " ", 1)


@lru_cache(maxsize=1 << 14)  # a cohort names the same few hundred mutations again and again
def parse_mutation(text: str, gene: str | None = None) -> MutationName:
    """Read one mutation string; ``gene`` is used when the string names none."""
    cleaned = re.sub(r"\s+", " ", text.strip()).upper()
    with_gene = _WITH_GENE.fullmatch(cleaned)
    named_gene, change = (with_gene["gene"], with_gene["change"]) if with_gene else (None, cleaned)
    if named_gene and gene and named_gene != gene.upper():
        raise MutationSyntaxError(f"mutation {text!r} names gene {named_gene} but was given under {gene}")
    chosen = named_gene or (gene.upper() if gene else None)
    if not chosen:
        raise MutationSyntaxError(f"mutation {text!r} names no gene: write it as GENE:CHANGE, e.g. UL97:C592G")
    return _parse_change(change.strip(), chosen, text)


def _parse_change(change: str, gene: str, original: str) -> MutationName:
    if match := _SUBSTITUTION.fullmatch(change):
        return _substitution(gene, match["ref"], match["pos"], match["alt"], original)
    if match := _HGVS_SUBSTITUTION.fullmatch(change):
        ref, alt = THREE_LETTER.get(match["ref"]), THREE_LETTER.get(match["alt"], match["alt"])
        if ref is None or ref == "*" or alt not in ONE_LETTER | {"*"}:
            raise MutationSyntaxError(f"mutation {original!r}: unknown amino-acid code")
        return _substitution(gene, ref, match["pos"], alt, original)
    if match := _DELETION.fullmatch(change) or _HGVS_DELETION.fullmatch(change):
        start = _number(match["start"], original)
        end = _number(match["end"], original) if match["end"] else start
        if end < start:
            raise MutationSyntaxError(f"mutation {original!r}: deletion ends before it starts")
        return MutationName(gene, start, end=end)
    if match := _COUNTED_DELETION.fullmatch(change):
        start = _number(match["start"], original)
        count = _number(match["count"], original) if match["count"] else 1
        return MutationName(gene, start, end=start + count - 1)
    if match := _FRAMESHIFT.fullmatch(change):
        if match["new"]:
            _residue(match["new"], original)  # checked, not kept: the frame is what changes
        return MutationName(gene, _number(match["pos"], original), _residue(match["ref"], original), "fs")
    if match := _INSERTION.fullmatch(change):
        position, following = _number(match["pos"], original), _number(match["next"], original)
        if following != position + 1:
            raise MutationSyntaxError(f"mutation {original!r}: an insertion lies between two neighbouring residues")
        inserted = "".join(_residue(code, original) for code in re.findall(_AMINO, match["inserted"]))
        ref = _residue(match["ref"], original) if match["ref"] else ""
        return MutationName(gene, position, ref, inserted, end=following, inserted=True)
    raise MutationSyntaxError(
        f"mutation {original!r} is not in a known notation (e.g. UL97:C592G, p.Cys592Gly, UL27:C415*, "
        "UL97:del591-607, UL54:D981del2, UL97:C592fs, UL97:A594_L595insG)"
    )


def _residue(code: str, original: str) -> str:
    """One residue in one letter, from one or three letters."""
    letter = THREE_LETTER.get(code, code) if len(code) == 3 else code
    if letter not in ONE_LETTER:
        raise MutationSyntaxError(f"mutation {original!r}: {code!r} is not an amino acid")
    return letter


def _substitution(gene: str, ref: str, position: str, alt: str, original: str) -> MutationName:
    alt = "*" if alt in ("X", "TER") else alt
    if ref not in ONE_LETTER:
        raise MutationSyntaxError(f"mutation {original!r}: {ref!r} is not an amino acid")
    if ref == alt:
        raise MutationSyntaxError(f"mutation {original!r} changes nothing ({ref} to {alt})")
    if _number(position, original) < 1:
        raise MutationSyntaxError(f"mutation {original!r}: positions start at 1")
    return MutationName(gene, _number(position, original), ref, alt)


def _number(digits: str, original: str) -> int:
    """A residue position or count; more than five digits is no protein position (UL54, the
    longest gene read, has 1,242 residues) and would only cost a huge integer conversion."""
    if len(digits) > 5:
        raise MutationSyntaxError(f"mutation {original[:40]!r}: a position of {len(digits)} digits is too large")
    return int(digits)


__all__ = [
    "MUTATION_CLASS",
    "ONE_LETTER",
    "THREE_LETTER",
    "MutationName",
    "MutationSyntaxError",
    "normal_form",
    "parse_mutation",
    "shown_name",
]
