"""The release written in four syntaxes: the one checked build of graph.py, as files.

Byte-identical output from the same sources matters to users who diff releases and cache them,
so blank nodes get content-derived labels and triples are inserted in sorted order (rdflib's
serializers follow insertion order).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Graph, Literal, URIRef

from ..terms import PREFIXES
from .graph import release_graph, sorted_canonical
from .herpesdrg import evidence_graph

FORMATS = ("cmv-rr.ttl", "cmv-rr.nt", "cmv-rr.owl", "cmv-rr.jsonld")
# The second source in a file of its own, never merged into the guideline's release: a user loads
# it into its named graph (https://w3id.org/cmv-rr/graph/herpesdrg) or leaves it out.
EVIDENCE = ("cmv-rr-herpesdrg.ttl",)


def serialize(graph: Graph, name: str) -> bytes:
    """One release file's bytes, the same for the same graph whatever the hash seed.

    rdflib's RDF/XML and JSON-LD writers iterate over sets, so their order changes from run to
    run: JSON-LD is re-sorted here and RDF/XML is written by a small flat writer. pyoxigraph's
    RDF/XML writer would give stable bytes too, but it writes xsd:string literals plain, and the
    release promises a datatype on every literal (stores disagree about plain versus typed
    strings; docs/architecture.md, Identifiers): so the flat writer stays.
    """
    if name.endswith(".ttl"):
        return graph.serialize(format="turtle", encoding="utf-8")
    if name.endswith(".nt"):
        lines = graph.serialize(format="nt", encoding="utf-8").splitlines(keepends=True)
        return b"".join(sorted(set(lines)))
    if name.endswith(".jsonld"):
        nodes = json.loads(graph.serialize(format="json-ld"))
        return (json.dumps(_sorted_json(nodes), ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    return _rdf_xml(graph)


def _sorted_json(value: Any, ordered: bool = False) -> Any:
    """Sort JSON-LD arrays, except @list arrays: their order is the RDF list's order."""
    if isinstance(value, list):
        items = [_sorted_json(item) for item in value]
        return items if ordered else sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, dict):
        return {key: _sorted_json(item, ordered=key == "@list") for key, item in value.items()}
    return value


def _rdf_xml(graph: Graph) -> bytes:
    """Flat RDF/XML: one rdf:Description per subject, subjects and properties sorted."""
    namespaces = sorted((prefix, str(namespace)) for prefix, namespace in PREFIXES.items())
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<rdf:RDF"]
    out += [f"  xmlns:{prefix}={quoteattr(namespace)}" for prefix, namespace in namespaces]
    out[-1] += ">"

    def qname(predicate: URIRef) -> str:
        for prefix, namespace in sorted(namespaces, key=lambda item: -len(item[1])):
            local = str(predicate)[len(namespace) :]
            if str(predicate).startswith(namespace) and local.replace("-", "").replace("_", "").isalnum():
                return f"{prefix}:{local}"
        raise ValueError(f"no prefix for predicate {predicate}")

    for subject in sorted(set(graph.subjects()), key=str):
        about = (
            f"rdf:nodeID={quoteattr(str(subject))}"
            if isinstance(subject, BNode)
            else f"rdf:about={quoteattr(str(subject))}"
        )
        out.append(f"  <rdf:Description {about}>")
        for predicate, obj in sorted(graph.predicate_objects(subject), key=lambda pair: (str(pair[0]), pair[1].n3())):
            tag = qname(URIRef(str(predicate)))
            if isinstance(obj, BNode):
                out.append(f"    <{tag} rdf:nodeID={quoteattr(str(obj))}/>")
            elif isinstance(obj, URIRef):
                out.append(f"    <{tag} rdf:resource={quoteattr(str(obj))}/>")
            else:
                literal = obj if isinstance(obj, Literal) else Literal(obj)
                attribute = (
                    f" xml:lang={quoteattr(literal.language)}"
                    if literal.language
                    else f" rdf:datatype={quoteattr(str(literal.datatype))}"
                    if literal.datatype
                    else ""
                )
                out.append(f"    <{tag}{attribute}>{escape(str(literal))}</{tag}>")
        out.append("  </rdf:Description>")
    out.append("</rdf:RDF>")
    return ("\n".join(out) + "\n").encode()


def write_release(out_dir: Path) -> list[Path]:
    """Write the four release files and the second source's; all or none (built in a temporary
    folder, then moved)."""
    graph = release_graph()
    evidence = sorted_canonical(evidence_graph())
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (*FORMATS, *EVIDENCE)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".building-") as staging:
        for name in FORMATS:
            (Path(staging) / name).write_bytes(serialize(graph, name))
        for name in EVIDENCE:
            (Path(staging) / name).write_bytes(serialize(evidence, name))
        for name in names:
            shutil.move(str(Path(staging) / name), out_dir / name)
    return [out_dir / name for name in names]


__all__ = ["EVIDENCE", "FORMATS", "serialize", "write_release"]
