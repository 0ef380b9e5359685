"""cmvrr serve and cmvrr push: the knowledge graph (and patients) behind a SPARQL endpoint.

serve builds an on-disk Oxigraph store and hands it to the `oxigraph` server in read-only mode
(updates are refused; its query page works in a browser). push uploads the release to any SPARQL
1.1 Graph Store Protocol endpoint.
"""

from __future__ import annotations

import http.client
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph
from rdflib import URIRef
from rdflib.namespace import RDF

from ..checks.chunks import patient_subgraph
from ..decisions.engines import with_day_numbers
from ..errors import CmvrrError, RuntimeFailure, error_text
from ..knowledge.graph import release_graph
from ..knowledge.stores import load_knowledge
from ..patients.readers import read_patient_file
from ..terms import CMVRR, KNOWLEDGE_GRAPH, patient_graph_iri


def build_store(location: Path, patients: Sequence[Path] = ()) -> int:
    """An on-disk store: the knowledge graph (named and default graph) and each patient's graph."""
    store = pyoxigraph.Store(str(location))
    load_knowledge(store)
    count = 0
    for path in patients:
        graph = read_patient_file(path).graph
        for patient in sorted(URIRef(str(p)) for p in graph.subjects(RDF.type, CMVRR.Patient)):
            data = with_day_numbers(patient_subgraph(graph, patient)).serialize(format="nt", encoding="utf-8")
            store.load(
                data, format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=pyoxigraph.NamedNode(patient_graph_iri(patient))
            )
            count += 1
    store.flush()
    del store
    return count


def server_command(location: Path, host: str, port: int) -> list[str]:
    binary = shutil.which("oxigraph")
    if binary is None:
        raise CmvrrError("the `oxigraph` server is not installed: pip install 'cmv-rr[serve]'")
    return [binary, "serve-read-only", "--location", str(location), "--bind", f"{host}:{port}"]


def serve(host: str, port: int, patients: Sequence[Path]) -> int:
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        print(f"warning: serving on {host}, not loopback: anyone who can reach it can query it", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="cmvrr-store-") as folder:
        count = build_store(Path(folder), patients)
        where = f"http://{host}:{port}"
        print(
            f"SPARQL endpoint {where}/query (read-only; query page {where}/), knowledge graph "
            f"<{KNOWLEDGE_GRAPH}> and {count} patient graph(s). Ctrl-C stops.",
            flush=True,
        )
        server = subprocess.Popen(server_command(Path(folder), host, port))
        # Stopping cmvrr serve (Ctrl-C, or SIGTERM from a supervisor) stops the server with it, so
        # no orphan keeps the port or the store.
        signal.signal(signal.SIGTERM, lambda signum, frame: server.terminate())
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait()
            return 0


PUSH_DEADLINE_S = 120  # the whole upload and its answer, however slowly the endpoint trickles


def push(endpoint: str, graph: str | None, deadline: float = PUSH_DEADLINE_S) -> str:
    """PUT the release (Turtle) into ``graph`` (or the default graph) of a Graph Store Protocol
    endpoint; an answer not complete within ``deadline`` seconds is a failure (a server sending a
    byte every 20 s never trips a per-read timeout)."""
    scheme = urllib.parse.urlsplit(endpoint).scheme.lower()
    if scheme not in ("http", "https") or not urllib.parse.urlsplit(endpoint).hostname:
        raise CmvrrError(f"{endpoint!r}: not an http(s) URL of a Graph Store Protocol endpoint")
    parameter = {"graph": graph} if graph else {"default": ""}
    separator = "&" if "?" in endpoint else "?"
    url = f"{endpoint}{separator}{urllib.parse.urlencode(parameter)}"
    body = release_graph().serialize(format="turtle", encoding="utf-8")
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "text/turtle"})
    outcome: list[str | BaseException] = []

    def upload() -> None:
        try:
            with urllib.request.urlopen(request, timeout=min(60, deadline)) as response:
                response.read()
                outcome.append(f"{response.status} {response.reason}: {len(body):,} bytes of Turtle to {url}")
        except BaseException as error:  # handed to the caller's thread
            outcome.append(error)

    worker = threading.Thread(target=upload, daemon=True)  # left behind on a deadline: the process ends
    worker.start()
    worker.join(deadline)
    if not outcome:
        raise RuntimeFailure(f"{url}: no complete answer within {deadline:g} s")
    result = outcome[0]
    if isinstance(result, urllib.error.HTTPError):
        raise RuntimeFailure(f"{url}: the endpoint refused the upload: {result.code} {result.reason}") from result
    if isinstance(result, http.client.HTTPException):
        raise RuntimeFailure(f"{url}: the answer is not HTTP: {error_text(result)}") from result
    if isinstance(result, (urllib.error.URLError, OSError)):
        raise RuntimeFailure(f"{url}: cannot reach the endpoint: {getattr(result, 'reason', result)}") from result
    if isinstance(result, BaseException):
        raise result
    return result


__all__ = [
    "build_store",
    "push",
    "serve",
    "server_command",
]
