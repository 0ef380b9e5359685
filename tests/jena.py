"""Apache Jena ARQ from Debian's libapache-jena-java, made runnable (the fourth engine).

Two packaging traps (docs/architecture.md, Engine facts): `java -cp '/usr/share/java/*'` fails on
conflicting SLF4J bindings, so the classpath lists the jena jars, their dependencies and one
binding (slf4j-nop); and the Xerces message bundles sit under org/apache/jena/ext/xerces/ while the
classes moved to xerces.*, so they are copied under xerces/ into a folder on the classpath.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

JAVA_DIR = Path("/usr/share/java")
JARS = [
    "commons-cli", "commons-codec", "commons-compress", "commons-csv", "commons-io", "commons-lang3",
    "dexx.collection", "gson", "guava", "httpclient", "jackson-core", "jackson-databind", "jakarta.json-api",
    "jcl-over-slf4j", "jena-arq", "jena-base", "jena-cmds", "jena-core", "jena-dboe-base", "jena-dboe-index",
    "jena-dboe-storage", "jena-dboe-trans-data", "jena-dboe-transaction", "jena-iri", "jena-rdfconnection",
    "jena-shacl", "jena-tdb", "jena-tdb2", "jsonld-java", "protobuf", "thrift", "titanium-json-ld",
    "slf4j-api", "slf4j-nop",
]  # fmt: skip


def available() -> bool:
    return shutil.which("java") is not None and (JAVA_DIR / "jena-arq.jar").exists()


def classpath(workdir: Path) -> str:
    bundles = workdir / "xerces-bundles"
    with zipfile.ZipFile(JAVA_DIR / "jena-core.jar") as jar:
        for name in jar.namelist():
            if name.startswith("org/apache/jena/ext/xerces/") and name.endswith(".properties"):
                target = bundles / name.removeprefix("org/apache/jena/ext/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(jar.read(name))
    return ":".join([*(str(JAVA_DIR / f"{jar}.jar") for jar in JARS), str(bundles)])


def arq(workdir: Path, data: Path, query: Path) -> str:
    """Run one query with arq.sparql over a TriG/N-Quads/Turtle file; SPARQL JSON results."""
    command = ["java", "-cp", classpath(workdir), "arq.sparql", "--data", str(data), "--query", str(query)]
    command += ["--results", "json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise AssertionError(f"arq failed on {query.name}: {result.stderr[-2000:]}")
    return result.stdout
