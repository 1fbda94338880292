"""The layering rules of ARCHITECTURE.md, read from the source with `ast`: who may import whom, where
botocore may appear, no wall clock in domain or scheduler code, and a docstring on every module."""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

import batchemu

PACKAGE_DIR = Path(batchemu.__file__).parent
STDLIB = sys.stdlib_module_names
FORBIDDEN_CALLS = {
    "time.time",
    "time.time_ns",
    "time.sleep",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
}


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@cache
def tree(module: str) -> ast.Module:
    path = modules()[module]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imports_of(module: str, source: ast.Module, known: frozenset[str] | None = None) -> set[str]:
    """Every module `source` imports (anywhere in the file), as absolute dotted names. `from pkg import
    name` counts as pkg.name when that is a module of ours."""
    known = known if known is not None else frozenset(modules())
    is_package = module in known and modules().get(module, Path()).name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(source):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return found


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def forbidden_calls(source: ast.Module) -> list[str]:
    """Calls to the wall clock or sleep, seen through `import x as y` and `from x import y as z`."""
    aliases: dict[str, str] = {}
    for node in ast.walk(source):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    for node in ast.walk(source):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
            if resolved in FORBIDDEN_CALLS:
                found.append(f"{resolved} (line {node.lineno})")
    return found


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def under(package: str) -> list[str]:
    return [name for name in modules() if name == package or name.startswith(package + ".")]


def is_within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def violations(package: str, allowed_ours: tuple[str, ...], stdlib_only: bool) -> list[str]:
    found = []
    for module in under(package):
        for imported in sorted(imports_of(module, tree(module))):
            top = imported.split(".")[0]
            if top == "batchemu":
                if imported != "batchemu" and not is_within(imported, allowed_ours):
                    found.append(f"{module} imports {imported}")
                elif imported == "batchemu":
                    found.append(f"{module} imports the batchemu package root")
            elif stdlib_only and top not in STDLIB:
                found.append(f"{module} imports third-party {imported}")
    return found


# -- the checker itself ------------------------------------------------------------------------------
def test_the_checker_sees_the_whole_package() -> None:
    names = set(modules())
    assert {
        "batchemu",
        "batchemu.domain.states",
        "batchemu.protocol.router",
        "batchemu.scheduler.core",
    } <= names
    assert len(names) >= 20


def test_the_checker_resolves_relative_and_from_imports() -> None:
    known = frozenset({"batchemu.arns", "batchemu.domain.models", "batchemu.domain"})
    source = ast.parse(
        "from . import models\nfrom ..arns import build\nfrom batchemu import arns\nimport json\n"
    )
    found = imports_of("batchemu.domain.states", source, known)
    assert found == {"batchemu.domain.models", "batchemu.arns", "json"}


def test_the_checker_sees_imports_inside_functions() -> None:
    source = ast.parse("def f():\n    from batchemu.service import jobs\n")
    assert imports_of("batchemu.domain.x", source, frozenset({"batchemu.service.jobs"})) == {
        "batchemu.service.jobs"
    }


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import time\ntime.sleep(1)", "time.sleep"),
        ("import time as t\nt.time()", "time.time"),
        ("from time import sleep as nap\nnap(2)", "time.sleep"),
        ("from datetime import datetime\ndatetime.now()", "datetime.datetime.now"),
        ("import datetime\ndatetime.datetime.utcnow()", "datetime.datetime.utcnow"),
        ("from datetime import date\ndate.today()", "datetime.date.today"),
    ],
)
def test_the_checker_finds_wall_clock_calls(code: str, expected: str) -> None:
    assert [call.split(" ")[0] for call in forbidden_calls(ast.parse(code))] == [expected]


def test_the_checker_allows_an_injected_clock() -> None:
    assert forbidden_calls(ast.parse("def f(clock):\n    return clock.now() + clock.time()\n")) == []


# -- the rules -----------------------------------------------------------------------------------------
def test_domain_imports_only_config_clock_errors_arns_domain_and_stdlib() -> None:
    allowed = ("batchemu.config", "batchemu.clock", "batchemu.errors", "batchemu.arns", "batchemu.domain")
    assert violations("batchemu.domain", allowed, stdlib_only=True) == []


def test_protocol_never_imports_domain_service_scheduler_or_runners() -> None:
    forbidden = ("batchemu.domain", "batchemu.service", "batchemu.scheduler", "batchemu.runners")
    found = [
        f"{module} imports {imported}"
        for module in under("batchemu.protocol")
        for imported in sorted(imports_of(module, tree(module)))
        if is_within(imported, forbidden)
    ]
    assert found == []


def test_scheduler_imports_only_domain_runner_interface_clock_errors_arns_config_and_itself() -> None:
    allowed = (
        "batchemu.domain",
        "batchemu.runners.base",
        "batchemu.clock",
        "batchemu.errors",
        "batchemu.arns",
        "batchemu.config",
        "batchemu.scheduler",
    )
    assert violations("batchemu.scheduler", allowed, stdlib_only=True) == []


def test_only_protocol_and_integrations_import_botocore() -> None:
    found = [
        f"{module} imports {imported}"
        for module in modules()
        # waiters.py is a client-side helper: botocore's waiter machinery is its whole purpose
        if not is_within(module, ("batchemu.protocol", "batchemu.integrations", "batchemu.waiters"))
        for imported in sorted(imports_of(module, tree(module)))
        if imported.split(".")[0] == "botocore"
    ]
    assert found == []


def test_domain_and_scheduler_never_read_the_wall_clock_or_sleep() -> None:
    found = [
        f"{module}: {call}"
        for module in under("batchemu.domain") + under("batchemu.scheduler")
        for call in forbidden_calls(tree(module))
    ]
    assert found == []


def test_every_module_has_a_docstring() -> None:
    assert [module for module in modules() if not (ast.get_docstring(tree(module)) or "").strip()] == []


# -- no import circles (STYLE.md: types that both sides need live below both) -----------------------
# Imports anywhere in a file count, inside functions and TYPE_CHECKING blocks too: a lazy import is how
# a circle hides. The package root is left out: it loads its public names on first use (__getattr__).
KNOWN_CYCLES = [
    # docker_logs annotates with DockerAttempt under TYPE_CHECKING; issue 20 item 4 reworks these runners
    {"batchemu.runners.docker", "batchemu.runners.docker_logs"},
]


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> the modules of ours it imports."""
    ours = frozenset(modules())
    return {
        module: frozenset(
            name for name in imports_of(module, tree(module)) if name in ours - {"batchemu", module}
        )
        for module in modules()
    }


def cycles(graph: dict[str, frozenset[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_circles_and_only_circles() -> None:
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a", "d"}),
        "d": frozenset({"e"}),
        "e": frozenset({"d"}),
        "f": frozenset({"a"}),
    }
    assert sorted(map(sorted, cycles(graph))) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_dispatch_imports_the_handlers_and_no_handler_imports_dispatch() -> None:
    graph = import_graph()
    handlers = {"batchemu.service.resources", "batchemu.service.jobs", "batchemu.service.extras"}
    assert handlers <= graph["batchemu.service.dispatch"]
    assert [
        module for module in under("batchemu.service") if "batchemu.service.dispatch" in graph[module]
    ] == []


def test_the_package_has_no_import_cycle() -> None:
    assert sum(map(len, import_graph().values())) > 300
    assert [sorted(cycle) for cycle in cycles(import_graph()) if cycle not in KNOWN_CYCLES] == []
