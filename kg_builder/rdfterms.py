"""Typed literals, made one way everywhere (DESIGN.md: every literal is typed)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rdflib import Literal
from rdflib.namespace import XSD


def en(text: str) -> Literal:
    return Literal(text, lang="en")


def string(text: str) -> Literal:
    return Literal(text, datatype=XSD.string)


def integer(value: str | int) -> Literal:
    return Literal(int(value), datatype=XSD.integer)


def decimal(value: str | int | float) -> Literal:
    """xsd:decimal in canonical lexical form ("1000.0"), which every RDF syntax writes alike."""
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise ValueError(f"{value!r} is not a decimal number") from error
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    text = format(number, "f")
    whole, _, fraction = text.partition(".")
    return Literal(f"{whole}.{fraction.rstrip('0') or '0'}", datatype=XSD.decimal)


def boolean(value: str | bool) -> Literal:
    return Literal(value is True or value == "true", datatype=XSD.boolean)


def date(text: str) -> Literal:
    """xsd:date; a malformed date stays ill-typed so the shapes report it, never a crash."""
    return Literal(text, datatype=XSD.date)
