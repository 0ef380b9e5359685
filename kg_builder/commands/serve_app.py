"""The SPARQL endpoint of cmvrr serve: an ASGI app (Starlette) over an in-memory Oxigraph store,
run by uvicorn (docs/architecture.md, Serving).

- GET/POST /query: the SPARQL 1.1 protocol; results as JSON (default), XML, CSV or TSV, graphs as
  Turtle (default) or N-Triples, by the Accept header.
- Read-only: /update and every other write are refused (403); SERVICE is refused (400).
- Each query runs in a forked child with a CPU limit and a wall-clock timeout, so an abandoned
  cartesian product stops when its time is up, not when the server does; at most ``workers``
  queries run at once, the others wait their turn.
- GET /: the query page: YASGUI (vendored, static/yasgui), the packaged queries as examples, the
  cmvrr prefixes preset; no update tab (the endpoint has none).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import multiprocessing
import resource
import urllib.parse
from collections.abc import Mapping
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path

import pyoxigraph
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..decisions.engines import query_text, refuse_federation
from ..errors import CmvrrError, error_text
from .query import query_list

RESULT_FORMATS = {
    "application/sparql-results+json": pyoxigraph.QueryResultsFormat.JSON,
    "application/json": pyoxigraph.QueryResultsFormat.JSON,
    "application/sparql-results+xml": pyoxigraph.QueryResultsFormat.XML,
    "text/csv": pyoxigraph.QueryResultsFormat.CSV,
    "text/tab-separated-values": pyoxigraph.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {"text/turtle": pyoxigraph.RdfFormat.TURTLE, "application/n-triples": pyoxigraph.RdfFormat.N_TRIPLES}

STATIC_DIR = Path(__file__).with_name("static")  # the vendored YASGUI (static/yasgui/SOURCE.md)
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


def create_app(store: pyoxigraph.Store, timeout: float, workers: int = 2) -> Starlette:
    """The endpoint over ``store`` (loaded before: the app never writes to it)."""
    turns = asyncio.Semaphore(workers)

    async def query(request: Request) -> Response:
        try:
            return await answer(request)
        except Exception as error:  # one line for the client, never a traceback in the server's log
            return PlainTextResponse(f"internal error, please report it: {error_text(error)}", status_code=500)

    async def answer(request: Request) -> Response:
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
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
            Route("/query", query, methods=["GET", "POST"]),
            Route("/update", refuse_update, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/store", refuse_update, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )


async def _query_text(request: Request) -> str:
    if request.method == "GET":
        return request.query_params.get("query", "")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = (await request.body()).decode("utf-8", errors="replace")
    if kind == "application/x-www-form-urlencoded":  # the protocol's other POST form (YASGUI's)
        return urllib.parse.parse_qs(body).get("query", [""])[0]
    return body


@cache
def query_page() -> str:
    """The page, built once: the packaged queries are the package's own and do not change."""
    examples = [{**entry, "query": query_text(entry["name"])} for entry in query_list()]
    options = "\n".join(
        f'<option value="{index}">{html.escape(example["name"])}: {html.escape(example["purpose"][:90])}</option>'
        for index, example in enumerate(examples)
    )
    return (
        _PAGE.replace("{{options}}", options)
        .replace("{{examples}}", _script_json([example["query"] for example in examples]))
        .replace("{{names}}", _script_json([example["name"] for example in examples]))
        .replace("{{start}}", _script_json(START_QUERY))
    )


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


START_QUERY = """PREFIX cmvrr: <https://w3id.org/cmv-rr/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
# The therapies the knowledge graph knows
SELECT ?therapy ?label WHERE { ?therapy a cmvrr:Therapy ; rdfs:label ?label } ORDER BY ?label
"""


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cmv-rr SPARQL endpoint</title>
<link rel="stylesheet" href="static/yasgui/yasgui.min.css">
<style>body{font-family:sans-serif;margin:1em 1.5em} .note{color:#444;max-width:70em}
.yasgui .autocompleteWrapper{display:none !important}</style></head>
<body><h1>cmv-rr: ASTCT 2021 resistant/refractory CMV &middot; SPARQL endpoint</h1>
<p class="note">Read-only. The knowledge graph is the default graph and
&lt;https://w3id.org/cmv-rr/graph/knowledge&gt;, HerpesDRG's measurements and calls are
&lt;https://w3id.org/cmv-rr/graph/herpesdrg&gt;; each served patient's data is &lt;PATIENT-IRI/graph&gt;
and its derived findings &lt;PATIENT-IRI/findings&gt;. A packaged query that names ?patient needs a
VALUES block (see the README). A research and informatics tool, not a medical device: its output does
not replace clinical judgement.</p>
<label>Packaged query: <select id="example"><option value="">(choose one to load it)</option>
{{options}}</select></label>
<div id="yasgui"></div>
<script src="static/yasgui/yasgui.min.js"></script>
<script>
const examples = {{examples}};
const names = {{names}};
const start = {{start}};
Yasgui.Yasqe.defaults.autocompleters = [];  // they would fetch prefixes and terms from outside
const yasgui = new Yasgui(document.getElementById("yasgui"), {
  requestConfig: {endpoint: new URL("query", location.href).href, method: "POST",
                  acceptHeaderSelect: "application/sparql-results+json"},
  copyEndpointOnNewTab: false, persistenceId: null, populateFromUrl: false,
  endpointCatalogueOptions: {getData: () => []},
  yasqe: {value: start},
});
const select = document.getElementById("example");
select.onchange = (event) => {
  if (event.target.value !== "") yasgui.getTab().setQuery(examples[Number(event.target.value)]);
};
// A link can load a packaged query (?example=NAME) and run it (&run): shareable, and testable.
const params = new URLSearchParams(location.search);
const chosen = names.indexOf(params.get("example"));
if (chosen >= 0) { select.value = String(chosen); yasgui.getTab().setQuery(examples[chosen]); }
if (params.has("run")) yasgui.getTab().getYasqe().query();
</script></body></html>
"""


__all__ = ["create_app", "query_page", "run_with_timeout"]
