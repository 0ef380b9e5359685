"""cmvrr serve and cmvrr push: the knowledge graph (and patients) behind a SPARQL endpoint.

serve loads an in-memory Oxigraph store and serves it read-only with the package's own app
(serve_app.py) under uvicorn. push uploads the release to any SPARQL 1.1 Graph Store Protocol
endpoint.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pyoxigraph
import uvicorn

from ..checks.chunks import CHUNK_SIZE
from ..errors import CmvrrError, RuntimeFailure, error_text
from ..knowledge.graph import knowledge
from ..knowledge.stores import load_knowledge
from ..patients.readers import work_items
from ..terms import KNOWLEDGE_GRAPH
from .batch import chunked, warm_caches
from .cohort import cohort_chunk
from .serve_app import create_app


def build_store(patients: Sequence[Path] = ()) -> tuple[pyoxigraph.Store, Counter[str], list[str]]:
    """An in-memory store (nothing on disk outlives the server, even one killed by SIGKILL): the
    release (the default graph and the named knowledge graph), the second source, and for each
    conforming patient its own data <P/graph> and derived findings <P/findings>, as load-cohort
    stores them. Returns the store, the patients by status, and the lines on those not served."""
    store = pyoxigraph.Store()
    load_knowledge(store)
    counts: Counter[str] = Counter()
    refused: list[str] = []
    if patients:
        warm_caches()
        for chunk in chunked(work_items(patients), CHUNK_SIZE):
            chunk_counts, quads, problems = cohort_chunk((chunk, "oxigraph"))
            counts.update(chunk_counts)
            refused += problems
            store.load(quads.encode("utf-8"), format=pyoxigraph.RdfFormat.N_QUADS)
    return store, counts, refused


def _bound_socket(host: str, port: int) -> socket.socket:
    """The listening socket, taken before anything is announced: a busy port is one message."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise RuntimeFailure(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.listen(128)
    return sock


def serve(host: str, port: int, patients: Sequence[Path], timeout: float) -> int:
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        print(f"warning: serving on {host}, not loopback: anyone who can reach it can query it", file=sys.stderr)
    sock = _bound_socket(host, port)
    store, counts, refused = build_store(patients)
    for line in refused:
        print(f"not served: {line}", file=sys.stderr)
    where = f"http://{host}:{port}"
    banner = (
        f"SPARQL endpoint {where}/query (read-only; query page {where}/; queries stop after {timeout:g} s), "
        f"the release <{KNOWLEDGE_GRAPH}> and {counts['ok']} patient(s). Ctrl-C stops."
    )

    @contextlib.asynccontextmanager
    async def announce(app: object) -> AsyncIterator[None]:
        print(banner, flush=True)  # uvicorn is accepting: the banner never precedes a failure
        yield

    app = create_app(store, timeout)
    app.router.lifespan_context = announce
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=5, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
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
    body = knowledge().serialize(format="turtle", encoding="utf-8")  # the release, built once per process
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


__all__ = ["build_store", "push", "serve"]
