"""Mutation strings in the notations laboratories send all normalise to one form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kg_builder.patients.mutations import ONE_LETTER, MutationName, MutationSyntaxError, parse_mutation

SAME_SUBSTITUTION = [
    ("UL97:C592G", None), ("UL97 C592G", None), ("C592G", "UL97"), ("p.Cys592Gly", "UL97"),
    ("p.(Cys592Gly)", "UL97"), ("ul97:c592g", None), ("UL97:p.Cys592Gly", None), ("  UL97   C592G ", None),
    ("UL97_C592G", None),
]  # fmt: skip
SAME_STOP = [("UL27:C415*", None), ("UL27:C415X", None), ("C415Ter", "UL27"), ("p.Cys415Ter", "UL27"),
             ("p.(Cys415*)", "UL27"), ("ul27 c415x", None)]  # fmt: skip
SAME_DELETION = [("del591-607", "UL97"), ("UL97:del591-607", None), ("p.591_607del", "UL97"),
                 ("p.Ala591_Cys607del", "UL97"), ("UL97 p.(591_607del)", None)]  # fmt: skip


@pytest.mark.parametrize(("text", "gene"), SAME_SUBSTITUTION)
def test_substitution_notations_agree(text: str, gene: str | None) -> None:
    assert str(parse_mutation(text, gene)) == "UL97:C592G"


@pytest.mark.parametrize(("text", "gene"), SAME_STOP)
def test_stop_notations_agree(text: str, gene: str | None) -> None:
    mutation = parse_mutation(text, gene)
    assert str(mutation) == "UL27:C415*" and mutation.local_name == "UL27_C415stop"  # Table 5's UL27 C415*


@pytest.mark.parametrize(("text", "gene"), SAME_DELETION)
def test_deletion_notations_agree(text: str, gene: str | None) -> None:
    mutation = parse_mutation(text, gene)
    assert str(mutation) == "UL97:del591-607" and mutation.kind == "deletion"


SAME_COUNTED_DELETION = [("UL54:D981del2", None), ("D981del2", "UL54"), ("UL54:del981-982", None),
                         ("p.Asp981_Leu982del", "UL54"), ("UL54 p.981_982del", None)]  # fmt: skip
SAME_FRAMESHIFT = [("UL97:C592fs", None), ("p.Cys592fs", "UL97"), ("p.Cys592LeufsTer12", "UL97"),
                   ("UL97:C592Lfs*12", None), ("ul97 c592fsx12", None)]  # fmt: skip
SAME_INSERTION = [("UL97:A594_L595insG", None), ("p.Ala594_Leu595insGly", "UL97"), ("A594_595insG", "UL97"),
                  ("UL97 p.(Ala594_Leu595insGly)", None)]  # fmt: skip


@pytest.mark.parametrize(("text", "gene"), SAME_COUNTED_DELETION)
def test_counted_deletions_read_as_herpesdrg_writes_them(text: str, gene: str | None) -> None:
    """HerpesDRG's D981del2 is two residues from 981: Table 5's UL54 del981-982."""
    mutation = parse_mutation(text, gene)
    assert str(mutation) == "UL54:del981-982" and mutation.local_name == "UL54_del981-982"


@pytest.mark.parametrize(("text", "gene"), SAME_FRAMESHIFT)
def test_frameshift_notations_agree(text: str, gene: str | None) -> None:
    mutation = parse_mutation(text, gene)
    assert str(mutation) == "UL97:C592fs" and mutation.kind == "frameshift" and mutation.ref == "C"


@pytest.mark.parametrize(("text", "gene"), SAME_INSERTION)
def test_insertion_notations_agree(text: str, gene: str | None) -> None:
    mutation = parse_mutation(text, gene)
    assert (mutation.kind, mutation.position, mutation.end, mutation.alt) == ("insertion", 594, 595, "G")
    assert parse_mutation(str(mutation)) == mutation  # the normal form reads back to itself


@pytest.mark.parametrize(("text", "gene", "problem"), [
    ("UL97:A594_L597insG", None, "between two neighbouring residues"),
    ("UL97:C592Zfs", None, "'Z' is not an amino acid"),
    ("UL97:C592fsQ", None, "not in a known notation"),
    ("C592G", None, "names no gene"),
    ("UL97:592", None, "not in a known notation"),
    ("UL97:C592C", None, "changes nothing"),
    ("p.Xyz592Gly", "UL97", "unknown amino-acid code"),
    ("UL54:C592G", "UL97", "names gene UL54 but was given under UL97"),
    ("UL97:del607-591", None, "ends before it starts"),
    ("UL97:B592G", None, "not an amino acid"),
])  # fmt: skip
def test_unreadable_mutations_say_why(text: str, gene: str | None, problem: str) -> None:
    with pytest.raises(MutationSyntaxError, match=problem):
        parse_mutation(text, gene)


AMINO = st.sampled_from(sorted(ONE_LETTER))
GENES = st.sampled_from(["UL27", "UL51", "UL54", "UL56", "UL89", "UL97"])


@given(GENES, AMINO, st.integers(1, 2000), st.one_of(AMINO, st.just("*")))
def test_normal_form_reads_back_to_itself(gene: str, ref: str, position: int, alt: str) -> None:
    if ref == alt:
        return
    mutation = MutationName(gene, position, ref, alt)
    assert parse_mutation(str(mutation)) == mutation
    assert parse_mutation(str(mutation).lower()) == mutation


@given(st.text(max_size=30))
def test_any_text_either_parses_or_raises_a_clear_error(text: str) -> None:
    try:
        parse_mutation(text, "UL97")
    except MutationSyntaxError as error:
        assert "mutation" in str(error)
