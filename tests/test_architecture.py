"""The package's rooms and the order between them (docs/architecture.md, Rooms): no import cycle, no
module importing from a room above its own, no private name crossing a module boundary, and
every module declaring its public names. Each rule is shown to fail on a graph that breaks it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kg_builder"

# Lower rooms never import from higher ones; a room may import from itself and anything below.
LAYERS: dict[str, int] = {
    "errors": 0,
    "paths": 0,
    "version": 0,
    "cache": 0,
    "terms": 0,
    "patients": 1,
    "sequences": 1,
    "knowledge": 2,
    "checks": 3,
    "decisions": 4,
    "pipeline": 5,
    "report": 6,
    "api": 7,
    "commands": 8,
    "__init__": 9,
    "__main__": 9,
}

Edge = tuple[str, str, str]  # (importing module, imported module, imported name or "")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def room(module: str) -> str:
    return module.split(".")[0]


def resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if module == "__init__":
        base = []
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *([target] if target else [])])


def edges_of(path: Path) -> Iterator[Edge]:
    module = module_name(path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            target = resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{target}.{alias.name}" if target else alias.name
                if (PACKAGE / Path(*submodule.split("."))).with_suffix(".py").exists() or (
                    PACKAGE / Path(*submodule.split("."))
                ).is_dir():
                    yield module, submodule, ""
                else:
                    yield module, target or "__init__", alias.name


def package_edges() -> list[Edge]:
    return [edge for path in sorted(PACKAGE.rglob("*.py")) if "_data" not in path.parts for edge in edges_of(path)]


def cycles(edges: list[Edge]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                found.append([*stack[stack.index(successor) :], successor])
            elif successor not in state:
                visit(successor)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def upward(edges: list[Edge]) -> list[str]:
    return [
        f"{source} imports {target} (room {room(target)!r} is above {room(source)!r})"
        for source, target, _ in edges
        if LAYERS[room(target)] > LAYERS[room(source)]
    ]


def private(edges: list[Edge]) -> list[str]:
    return [f"{source} imports {name} from {target}" for source, target, name in edges if name.startswith("_")
            and name != "__version__"]  # fmt: skip


def test_every_module_belongs_to_a_room() -> None:
    rooms = {room(module_name(path)) for path in PACKAGE.rglob("*.py") if "_data" not in path.parts}
    assert rooms <= set(LAYERS), f"modules outside every room: {sorted(rooms - set(LAYERS))}"


def test_no_import_cycle() -> None:
    assert cycles(package_edges()) == []


def test_no_module_imports_from_a_room_above_its_own() -> None:
    assert upward(package_edges()) == []


def test_no_private_name_crosses_a_module_boundary() -> None:
    assert private(package_edges()) == []


@pytest.mark.parametrize(
    "path", sorted(p for p in PACKAGE.rglob("*.py") if "_data" not in p.parts and p.name != "__main__.py"), ids=str
)
def test_every_module_declares_its_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assigned = [target for node in tree.body if isinstance(node, ast.Assign) for target in node.targets]
    assigned += [node.target for node in tree.body if isinstance(node, ast.AnnAssign)]
    declared = [target for target in assigned if isinstance(target, ast.Name) and target.id == "__all__"]
    assert declared, f"{path.relative_to(PACKAGE)} has no __all__"


# The rules fail when broken on purpose --------------------------------------------------------


def test_a_cycle_is_found() -> None:
    edges = [("a", "b", ""), ("b", "c", ""), ("c", "a", "")]
    assert cycles(edges) == [["a", "b", "c", "a"]]


def test_an_upward_import_is_found() -> None:
    assert upward([("knowledge.graph", "decisions.engines", "")]) == [
        "knowledge.graph imports decisions.engines (room 'decisions' is above 'knowledge')"
    ]


def test_a_private_import_is_found() -> None:
    assert private([("checks.validate", "decisions.engines", "_canonical")]) == [
        "checks.validate imports _canonical from decisions.engines"
    ]


def test_the_import_reader_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    edges = package_edges()
    # cli imports these inside its subcommand functions, two levels up and from its own room
    assert ("commands.cli", "api", "recommend") in edges
    assert ("commands.cli", "commands.query", "run_query") in edges
