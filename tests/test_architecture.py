"""The import graph: no circles inside soraweb/, and the provider layer stays plain Python.

A small AST walk over every import statement, at any depth except ``if TYPE_CHECKING:`` blocks:
a function-local import still makes a circle, it only hides it until the function runs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "soraweb"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts  # data migrations run in a frozen app registry
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, name: str) -> set[str]:
    """Every dotted name ``path`` imports (``from a import b`` gives both ``a`` and ``a.b``)."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return names


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in imported_names(path, name):
            # The most specific soraweb module named: ``from soraweb.videos import services`` is
            # an arrow to soraweb.videos.services, ``from soraweb.videos.models import X`` to
            # soraweb.videos.models.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_the_walk_sees_real_arrows():
    # Guards the test itself: if the walk saw nothing, "no circles" would prove nothing.
    graph = import_graph()
    assert "soraweb.videos.pipeline.submit" in graph["soraweb.videos.tasks"]
    assert "soraweb.videos.models" in graph["soraweb.videos.pipeline.queue"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_there_is_no_import_circle_inside_soraweb():
    assert cycles(import_graph()) == []


def test_the_pipeline_never_imports_the_user_writes_or_the_task_entry_points():
    graph = import_graph()
    for name, edges in graph.items():
        if name.startswith("soraweb.videos.pipeline"):
            upward = {
                e
                for e in edges
                if e.startswith(("soraweb.videos.services", "soraweb.videos.tasks"))
            }
            assert not upward, name


def test_user_writes_are_split_by_concern_and_models_never_import_them():
    graph = import_graph()
    assert {"soraweb.videos.services.jobs", "soraweb.videos.services.team"} <= set(graph)
    assert "soraweb.videos.services.fixes" in graph
    for name, edges in graph.items():
        if name.endswith(".models"):
            assert not {e for e in edges if ".services" in e}, name


def test_the_provider_layer_does_not_import_django():
    offenders = {
        name: sorted(t for t in imported_names(path, name) if t.split(".")[0] == "django")
        for name, path in all_modules().items()
        if name.startswith("soraweb.providers")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_task_paths_for_schedules_are_written_in_one_place():
    """A schedule names its task by a literal dotted path; only soraweb/schedules.py has any."""
    holders = set()
    for name, path in all_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"soraweb(\.\w+)+\.tasks\.\w+", node.value)
            ):
                holders.add(name)
    migrations = {module_name(path): path for path in PACKAGE.glob("*/migrations/0*.py")}
    for name, path in migrations.items():
        if re.search(r"soraweb(\.\w+)+\.tasks\.\w+", path.read_text()):
            holders.add(name)
    assert holders == {"soraweb.schedules"}


def _format_checks(tree: ast.AST) -> list[str]:
    """Comparisons against a wire format (``x.wire_format == ...``, ``WireFormat.OPENAI in ...``)
    and reaches into a client's HTTP layer (``client.http``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            text = " ".join(ast.unparse(p) for p in parts)
            if "wire_format" in text or "WireFormat." in text:
                found.append(ast.unparse(node))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "http"
            and isinstance(node.value, ast.Name)
            and node.value.id == "client"
        ):
            found.append(ast.unparse(node))
    return found


def test_callers_ask_a_clients_capabilities_not_its_format():
    """What a format can do (remix, cancel, exact picture size, thumbnails, the connection check)
    is the Protocol's to say; outside the provider layer and the simulator nobody compares
    formats or uses a client's HTTP layer. The catalogue's wire mapping picks its table by the
    format's name, which is data, not a comparison."""
    offenders = {}
    for name, path in all_modules().items():
        if name.startswith(("soraweb.providers", "soraweb.simulator")):
            continue
        found = _format_checks(ast.parse(path.read_text()))
        if found:
            offenders[name] = found
    assert offenders == {}
    # Guards the test itself: the walk does find both kinds where they belong.
    tree = ast.parse("if client.wire_format == WireFormat.OPENAI: client.http.get('/')")
    assert len(_format_checks(tree)) == 2
