"""cmvrr serve: every packaged query over HTTP equals the in-process answer, and updates are
refused; cmvrr push uploads the release to a Graph Store Protocol endpoint."""

from __future__ import annotations

import contextlib
import json
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
from typing import Any

import pytest
from conftest import need_on_ci
from portability import PATIENT_FILE, canonical, http_rows, in_process, values_clause

from kg_builder.commands.cli import main
from kg_builder.commands.cohort import load_cohort
from kg_builder.commands.query import run_store_query
from kg_builder.decisions.engines import query_text
from kg_builder.paths import QUERIES_DIR


def _need_oxigraph_server() -> str:
    """The oxigraph server binary: the Graph Store Protocol endpoint push is tested against."""
    binary = shutil.which("oxigraph")
    need_on_ci(binary is not None, "no oxigraph server: pip install 'cmv-rr[test]'")
    return str(binary)


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
        [sys.executable, "-m", "kg_builder", "serve", "--port", str(port), "--patients", str(PATIENT_FILE),
         "--timeout", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/query?query=" + urllib.parse.quote("ASK {}"), process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def cohort_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same patient in a cohort store, as load-cohort makes it: what the cohort queries read."""
    store = tmp_path_factory.mktemp("cohort") / "db"
    load_cohort([PATIENT_FILE], store, jobs=1)
    return store


@pytest.mark.parametrize("name", sorted(path.stem for path in QUERIES_DIR.glob("*.rq")))
def test_every_packaged_query_over_http_equals_in_process(endpoint: str, cohort_store: Path, name: str) -> None:
    """Patient and knowledge queries as the package's engine answers them; cohort queries as
    they answer over a load-cohort store of the same patient (serve holds its derived findings)."""
    remote = http_rows(endpoint, values_clause(query_text(name)))
    expected = run_store_query(name, cohort_store)[1] if name.startswith("cohort-") else in_process(name)
    assert canonical(remote) == canonical(expected)
    if name == "cohort-table4-rows":
        assert remote, "the served patient's findings must answer the cohort queries"


def test_query_page_opens_in_a_browser(endpoint: str) -> None:
    with urllib.request.urlopen(f"{endpoint}/", timeout=10) as response:
        assert response.status == 200
        assert "text/html" in response.headers.get("Content-Type", "")
        page = response.read().decode()
    assert "static/yasgui/yasgui.min.js" in page and "<title>Oxigraph" not in page
    assert "table5-mutations" in page, "the packaged queries are the examples"


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def _chromium() -> str:
    binary = shutil.which("chromium")
    need_on_ci(binary is not None, "no chromium: .ci/run installs Debian's")
    return str(binary)


def test_the_query_page_runs_a_packaged_query_in_a_real_browser(endpoint: str, tmp_path: Path) -> None:
    """YASGUI in headless Chromium: load the page with a packaged query, run it, and find the
    result table in the DOM (Table 5's 72 mutations); a screenshot stays in the test's folder."""
    url = f"{endpoint}/?example=table5-mutations&run"
    browse = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]
    dom = subprocess.run([*browse, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert 'class="dataTable' in dom, "YASR drew no result table"
    assert "72 results" in dom and "UL27 R233S" in dom
    shot = tmp_path / "query-page.png"
    subprocess.run([*browse, f"--screenshot={shot}", "--window-size=1280,900", url], capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000


def test_updates_are_refused(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/update", data=b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        headers={"Content-Type": "application/sparql-update"}, method="POST")  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in (400, 403, 404, 405)


def test_push_uploads_the_release(tmp_path: Path) -> None:
    port = free_port()
    command = [_need_oxigraph_server(), "serve", "--location", str(tmp_path / "db"),
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
    assert main(["push", "--endpoint", f"http://127.0.0.1:{free_port()}/store"]) == 3  # a runtime failure
    assert "cannot reach the endpoint" in capsys.readouterr().err


def test_stopping_serve_stops_the_server() -> None:
    """SIGTERM to cmvrr serve must not leave the oxigraph server behind on the port."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "kg_builder", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/query?query=" + urllib.parse.quote("ASK {}")
    wait_for(url, process)
    process.terminate()
    process.wait(timeout=10)
    time.sleep(0.5)
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(url, timeout=2)


class _Listener:
    """A loopback listener that answers every connection with ``reply`` (a callable given the
    socket), and records that it was reached."""

    def __init__(self, reply: Any) -> None:
        import socket
        import threading

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            with contextlib.suppress(OSError):
                self.reply(connection)


def _trickle(connection: Any) -> None:
    connection.recv(65536)
    for _ in range(60):
        connection.sendall(b"H")
        time.sleep(0.5)


def _garbage(connection: Any) -> None:
    connection.recv(65536)
    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    connection.close()


def test_push_ends_at_its_deadline_however_slowly_the_endpoint_trickles() -> None:
    from kg_builder.commands.serve import push
    from kg_builder.errors import RuntimeFailure
    from kg_builder.knowledge.graph import knowledge

    knowledge().serialize(format="turtle")  # built and written once before the clock starts
    listener = _Listener(_trickle)
    started = time.perf_counter()
    with pytest.raises(RuntimeFailure, match="no complete answer within 3 s"):
        push(f"http://127.0.0.1:{listener.port}/store", None, deadline=3)
    assert time.perf_counter() - started < 10 and listener.connections == 1


def test_push_to_something_that_is_not_http_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    listener = _Listener(_garbage)
    assert main(["push", "--endpoint", f"http://127.0.0.1:{listener.port}/store"]) == 3
    assert "the answer is not HTTP" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:,hello", "ftp://127.0.0.1/x", "http//nowhere", ""])
def test_push_takes_only_http_urls(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "--endpoint", url]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err


CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def test_a_slow_query_is_stopped_at_the_timeout_while_others_are_served(endpoint: str) -> None:
    import threading

    outcome: list[object] = []

    def slow() -> None:
        request = urllib.request.Request(f"{endpoint}/query", data=CARTESIAN.encode(),
                                         headers={"Content-Type": "application/sparql-query"})  # fmt: skip
        try:
            urllib.request.urlopen(request, timeout=30)
        except urllib.error.HTTPError as error:
            outcome.append((error.code, error.read().decode()))

    started = time.perf_counter()
    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.5)
    assert http_rows(endpoint, "SELECT ?x WHERE { VALUES ?x { 1 } }") == [{"x": "1"}], "served meanwhile"
    worker.join(30)
    [(code, message)] = outcome
    assert code == 503 and "ran longer than 3 s and was stopped" in message
    assert time.perf_counter() - started < 12


def test_a_federated_query_is_refused_and_fetches_nothing(endpoint: str) -> None:
    listener = _Listener(lambda connection: connection.close())
    query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        http_rows(endpoint, query)
    assert refused.value.code == 400 and "SERVICE" in refused.value.read().decode()
    time.sleep(0.3)
    assert listener.connections == 0


def test_idle_connections_do_not_lock_out_a_new_client(endpoint: str) -> None:
    host, port = endpoint.removeprefix("http://").split(":")
    idle = []
    try:
        for _ in range(300):
            connection = socket.create_connection((host, int(port)), timeout=5)
            connection.sendall(b"GET /query HTTP/1.1\r\nHost: x\r\n")  # a request that never ends
            idle.append(connection)
        with urllib.request.urlopen(f"{endpoint}/query?query=" + urllib.parse.quote("ASK {}"), timeout=10) as answer:
            assert json.load(answer)["boolean"] is True
    finally:
        for connection in idle:
            connection.close()


def test_the_served_knowledge_graph_is_the_release(endpoint: str, release_dir: Path) -> None:
    from rdflib import Graph

    query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/cmv-rr/graph/knowledge> { ?s ?p ?o } }"
    [row] = http_rows(endpoint, query)
    assert int(str(row["n"])) == len(Graph().parse(release_dir / "cmv-rr.ttl"))


def test_a_busy_port_is_one_message_and_no_banner() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "kg_builder", "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 3 and "Address already in use" in result.stderr
    assert "SPARQL endpoint" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_stopping_serve_by_any_signal_leaves_nothing_serving(how: str) -> None:
    import signal

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "kg_builder", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/query?query=" + urllib.parse.quote("ASK {}")
    wait_for(url, process)
    process.send_signal(getattr(signal, how))
    process.wait(timeout=20)
    time.sleep(0.5)
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(url, timeout=2)
