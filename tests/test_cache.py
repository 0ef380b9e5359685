"""The on-disk knowledge-graph cache: built once, read after, rebuilt when a source changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg_builder import cache
from kg_builder.knowledge.graph import knowledge


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tables = tmp_path / "tables"
    shutil.copytree(cache.TABLES_DIR, tables)
    monkeypatch.setattr(cache, "TABLES_DIR", tables)
    monkeypatch.setattr(cache, "RELEASE_DIR", tmp_path / "release")
    (tmp_path / "release").mkdir()
    cache.sources_digest.cache_clear()
    yield tables
    cache.sources_digest.cache_clear()


def test_built_once_then_read(isolated: Path) -> None:
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return b"<urn:a> <urn:b> <urn:c> .\n"

    assert cache.cached_bytes("x", build) == cache.cached_bytes("x", build) == b"<urn:a> <urn:b> <urn:c> .\n"
    assert len(builds) == 1
    assert len(list((isolated.parent / "release" / ".cache").glob("x-*.nt"))) == 1


def test_a_changed_table_gives_a_new_key(isolated: Path) -> None:
    before = cache.sources_digest()
    genes = isolated / "genes.tsv"
    genes.write_text(genes.read_text().replace("protein UL27", "protein UL27 (edited)"))
    cache.sources_digest.cache_clear()
    assert cache.sources_digest() != before


def test_read_only_release_falls_back_to_the_user_cache(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache.os, "access", lambda path, mode: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated.parent / "user-cache"))
    assert cache.cache_dir() == isolated.parent / "user-cache" / "cmv-rr"


def test_cached_knowledge_is_the_built_knowledge() -> None:
    from rdflib import Graph
    from rdflib.compare import isomorphic

    from kg_builder.knowledge.graph import knowledge_ntriples as _knowledge_ntriples

    assert isomorphic(Graph().parse(data=_knowledge_ntriples(), format="nt"), knowledge())
