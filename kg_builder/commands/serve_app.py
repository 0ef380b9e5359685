"""The SPARQL endpoint of cmvrr serve: an ASGI app (Starlette) over an in-memory Oxigraph store,
run by uvicorn (docs/architecture.md, Serving).

- GET/POST /query: the SPARQL 1.1 protocol; results as JSON (default), XML, CSV or TSV, graphs as
  Turtle (default) or N-Triples, by the Accept header.
- Read-only: /update and every other write are refused (403); SERVICE is refused (400).
- Each query runs in a forked child with a CPU limit and a wall-clock timeout, so an abandoned
  cartesian product stops when its time is up, not when the server does; at most ``workers``
  queries run at once, the others wait their turn.
- GET /: the query page, with the packaged queries as examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import multiprocessing
import resource
from collections.abc import Mapping
from multiprocessing.connection import Connection

import pyoxigraph
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..decisions.engines import refuse_federation
from ..errors import CmvrrError
from ..paths import QUERIES_DIR

RESULT_FORMATS = {
    "application/sparql-results+json": pyoxigraph.QueryResultsFormat.JSON,
    "application/json": pyoxigraph.QueryResultsFormat.JSON,
    "application/sparql-results+xml": pyoxigraph.QueryResultsFormat.XML,
    "text/csv": pyoxigraph.QueryResultsFormat.CSV,
    "text/tab-separated-values": pyoxigraph.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {"text/turtle": pyoxigraph.RdfFormat.TURTLE, "application/n-triples": pyoxigraph.RdfFormat.N_TRIPLES}

Answer = tuple[int, str, bytes]  # HTTP status, media type, body


def _media(accept: str, formats: Mapping[str, object]) -> str:
    """The first acceptable media type the endpoint writes; the first of ``formats`` otherwise."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in formats:
            return media
    return next(iter(formats))


def _answer(store: pyoxigraph.Store, query: str, accept: str) -> Answer:
    try:
        results = store.query(query)
    except SyntaxError as error:
        return 400, "text/plain", f"not a SPARQL query: {error}".encode()
    except (OSError, ValueError, RuntimeError) as error:
        return 400, "text/plain", f"the query failed: {error}".encode()
    if isinstance(results, pyoxigraph.QueryTriples):
        media = _media(accept, GRAPH_FORMATS)
        return 200, media, results.serialize(format=GRAPH_FORMATS[media]) or b""
    media = _media(accept, RESULT_FORMATS)
    return 200, media, results.serialize(format=RESULT_FORMATS[media]) or b""


def _child(store: pyoxigraph.Store, query: str, accept: str, seconds: float, pipe: Connection) -> None:
    # The kernel stops a query that outlives its parent (even one killed by SIGKILL).
    limit = int(seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
    pipe.send(_answer(store, query, accept))
    pipe.close()


def run_with_timeout(store: pyoxigraph.Store, query: str, accept: str, seconds: float) -> Answer:
    """The answer of a forked child, or 503 when it takes longer than ``seconds`` (then killed).
    The parent never queries the store itself, so a fork never copies a store in mid-query."""
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_child, args=(store, query, accept, seconds, sender), daemon=True
    )
    child.start()
    sender.close()
    try:
        if receiver.poll(seconds):
            with contextlib.suppress(EOFError):
                return receiver.recv()  # type: ignore[no-any-return]
            return 500, "text/plain", b"the query stopped without an answer (a CPU or memory limit)"
        return 503, "text/plain", f"the query ran longer than {seconds:g} s and was stopped".encode()
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()


def create_app(store: pyoxigraph.Store, timeout: float = 30, workers: int = 2) -> Starlette:
    """The endpoint over ``store`` (loaded before: the app never writes to it)."""
    turns = asyncio.Semaphore(workers)

    async def query(request: Request) -> Response:
        text = await _query_text(request)
        if not text:
            return PlainTextResponse("give a SPARQL query: ?query=... or a POST body", status_code=400)
        try:
            refuse_federation(text, "this endpoint")
        except CmvrrError as refused:
            return PlainTextResponse(str(refused), status_code=400)
        async with turns:
            status, media, body = await asyncio.to_thread(
                run_with_timeout, store, text, request.headers.get("accept", ""), timeout
            )
        return Response(body, status_code=status, media_type=media)

    async def refuse_update(request: Request) -> Response:
        return PlainTextResponse("this endpoint is read-only: updates are refused", status_code=403)

    async def page(request: Request) -> Response:
        return HTMLResponse(query_page())

    return Starlette(
        routes=[
            Route("/", page),
            Route("/query", query, methods=["GET", "POST"]),
            Route("/update", refuse_update, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/store", refuse_update, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )


async def _query_text(request: Request) -> str:
    if request.method == "GET":
        return request.query_params.get("query", "")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/sparql-query":
        return (await request.body()).decode("utf-8", errors="replace")
    form = await request.form()
    value = form.get("query", "")
    return value if isinstance(value, str) else ""


def _examples() -> list[dict[str, str]]:
    """The packaged queries with the purpose their header states."""
    examples = []
    for path in sorted(QUERIES_DIR.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        purpose = next((line[len("# Purpose:") :].strip() for line in text.splitlines()
                        if line.startswith("# Purpose:")), "")  # fmt: skip
        examples.append({"name": path.stem, "purpose": purpose, "query": text})
    return examples


def query_page() -> str:
    examples = _examples()
    options = "\n".join(
        f'<option value="{index}">{html.escape(example["name"])}: {html.escape(example["purpose"][:90])}</option>'
        for index, example in enumerate(examples)
    )
    return _PAGE.replace("{{options}}", options).replace(
        "{{examples}}", json.dumps([example["query"] for example in examples]).replace("</", "<\\/")
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cmv-rr SPARQL endpoint</title>
<style>body{font-family:sans-serif;margin:1.5em}textarea{width:100%;height:22em;font-family:monospace}
table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #bbb;padding:2px 6px;text-align:left}
#status{margin-left:1em;color:#555}</style></head>
<body><h1>cmv-rr: ASTCT 2021 resistant/refractory CMV, SPARQL endpoint</h1>
<p>Read-only. The knowledge graph is the default graph and &lt;https://w3id.org/cmv-rr/graph/knowledge&gt;;
each served patient's data is &lt;PATIENT-IRI/graph&gt;, its findings &lt;PATIENT-IRI/findings&gt;.
A research and informatics tool, not a medical device.</p>
<label>Example: <select id="example"><option value="">(choose a packaged query)</option>{{options}}</select></label>
<textarea id="query">PREFIX cmvrr: &lt;https://w3id.org/cmv-rr/&gt;
PREFIX rdfs: &lt;http://www.w3.org/2000/01/rdf-schema#&gt;
SELECT ?therapy ?label WHERE { ?therapy a cmvrr:Therapy ; rdfs:label ?label } ORDER BY ?label</textarea>
<button id="run">Run</button><span id="status"></span>
<div id="results"></div>
<script>
const examples = {{examples}};
document.getElementById("example").onchange = (e) => {
  if (e.target.value !== "") document.getElementById("query").value = examples[Number(e.target.value)];
};
document.getElementById("run").onclick = async () => {
  const status = document.getElementById("status"), out = document.getElementById("results");
  status.textContent = "running..."; out.textContent = "";
  const response = await fetch("query", {method: "POST",
    headers: {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
    body: document.getElementById("query").value});
  const text = await response.text();
  if (!response.ok) { status.textContent = response.status + ": " + text; return; }
  const data = JSON.parse(text);
  if ("boolean" in data) { status.textContent = String(data.boolean); return; }
  const table = document.createElement("table"), head = table.insertRow();
  for (const name of data.head.vars) {
    const th = document.createElement("th"); th.textContent = name; head.appendChild(th);
  }
  for (const binding of data.results.bindings) {
    const row = table.insertRow();
    for (const name of data.head.vars) row.insertCell().textContent = binding[name] ? binding[name].value : "";
  }
  out.appendChild(table); status.textContent = data.results.bindings.length + " rows";
};
</script></body></html>
"""


__all__ = ["create_app", "query_page", "run_with_timeout"]
