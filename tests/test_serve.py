"""cmvrr serve: every packaged query over HTTP equals the in-process answer, and updates are
refused; cmvrr push uploads the release to a Graph Store Protocol endpoint (issue 5)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kg_builder.cli import main
from kg_builder.paths import EXAMPLES_DIR, QUERIES_DIR
from kg_builder.queries import run_query
from kg_builder.store import patient_graph_iri, query_text

if shutil.which("oxigraph") is None:
    if os.environ.get("CI"):
        pytest.fail("the oxigraph server is missing on CI (pip install 'cmv-rr[serve]')", pytrace=False)
    pytest.skip("no oxigraph server", allow_module_level=True)

PATIENT_FILE = EXAMPLES_DIR / "cases" / "row2-low-level-ul97.json"
PATIENT = URIRef("https://w3id.org/cmv-rr/patient/CASE-ROW2")
INPUTS = {
    "patient": PATIENT,
    "patientGraph": patient_graph_iri(PATIENT),
    "row": URIRef("https://w3id.org/cmv-rr/table4-row-2"),
    "refractory": Literal(True),
    "failedToDecline": Literal(True),
    "highDoseGanciclovir": Literal(True),
    "triggerDay": Literal(20181),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kg_builder.cli", "serve", "--port", str(port), "--patients", str(PATIENT_FILE)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/query?query=" + urllib.parse.quote("ASK {}"), process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def values_clause(query: str) -> str:
    """Bind the inputs a query selects with a VALUES block opening its WHERE clause (the SPARQL
    protocol has no bindings; a trailing VALUES would join too late for BIND and FILTER)."""
    head, where = without_comments(query).split("WHERE", 1)
    names = selected(query)
    if not names:
        return query
    row = " ".join(INPUTS[name].n3() for name in names)
    opening = where.index("{") + 1
    block = f" VALUES ({' '.join('?' + name for name in names)}) {{ ({row}) }} "
    return head + "WHERE" + where[:opening] + block + where[opening:]


def http_rows(base: str, query: str) -> list[dict[str, str | None]]:
    request = urllib.request.Request(
        f"{base}/query", data=query.encode(), headers={"Content-Type": "application/sparql-query",
                                                        "Accept": "application/sparql-results+json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.load(response)
    names = data["head"]["vars"]
    return [{name: binding.get(name, {}).get("value") for name in names} for binding in data["results"]["bindings"]]


CONCATENATED = {"therapies", "references", "resistantTo", "susceptibleTo"}  # GROUP_CONCAT: order is open


def canonical(rows: list[dict[str, str | None]]) -> list[str]:
    from kg_builder.store import _canonical

    def value(name: str, text: str | None) -> str:
        if text is None:
            return ""
        if name in CONCATENATED:
            return " ".join(sorted(text.split()))
        return _canonical(text, "http://www.w3.org/2001/XMLSchema#decimal")

    return sorted(json.dumps({k: value(k, v) for k, v in row.items()}, sort_keys=True) for row in rows)


def without_comments(query: str) -> str:
    return "\n".join(line for line in query.splitlines() if not line.lstrip().startswith("#"))


def selected(query: str) -> list[str]:
    """The inputs a query projects (oxigraph binds only projected variables)."""
    text = without_comments(query)
    head = text.split("WHERE", 1)[0]
    while re.search(r"\([^()]*\)", head):  # leave out expressions such as (COUNT(?patient) AS ?patients)
        head = re.sub(r"\([^()]*\)", " ", head)
    computed = set(re.findall(r"\bAS\s+\?(\w+)", text))  # outputs such as refractory.rq's ?failedToDecline
    return [name for name in INPUTS if re.search(rf"\?{name}\b", head) and name not in computed]


@pytest.mark.parametrize("name", sorted(path.stem for path in QUERIES_DIR.glob("*.rq")))
def test_every_packaged_query_over_http_equals_in_process(endpoint: str, name: str) -> None:
    from kg_builder.decide import prepare
    from kg_builder.patient import read_patient_file

    text = query_text(name)
    engine, _ = prepare(read_patient_file(PATIENT_FILE).graph)
    bindings = {key: INPUTS[key] for key in selected(text)}
    try:
        local = engine.select(text, bindings) if bindings or "GRAPH" in text else run_query(name)[1]
    finally:
        engine.close()
    remote = http_rows(endpoint, values_clause(text))
    assert canonical(remote) == canonical(local)


def test_updates_are_refused(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/update", data=b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        headers={"Content-Type": "application/sparql-update"}, method="POST")  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in (400, 403, 404, 405)


def test_push_uploads_the_release(tmp_path: Path) -> None:
    port = free_port()
    command = [shutil.which("oxigraph") or "oxigraph", "serve", "--location", str(tmp_path / "db"),
               "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/query?query=" + urllib.parse.quote("ASK {}"), process)
        graph = "https://w3id.org/cmv-rr/graph/release"
        assert main(["push", "--endpoint", f"{base}/store", "--graph", graph]) == 0
        [row] = http_rows(base, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        assert int(str(row["n"])) > 8000
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_push_to_nowhere_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "--endpoint", f"http://127.0.0.1:{free_port()}/store"]) == 2
    assert "cannot reach the endpoint" in capsys.readouterr().err
