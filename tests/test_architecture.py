"""Three tiers, one direction: the core imports neither tier, the worker never needs the web tier,
and web processes never load the build stack. Each check imports in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import ROOT

IMPORT_SECONDS = 60


def modules_after(statement: str) -> set[str]:
    """The module names loaded in a fresh interpreter after running `statement`."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=IMPORT_SECONDS, check=True)
    return set(done.stdout.split())


def tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_worker_tasks_do_not_import_the_web_tier():
    loaded = modules_after("import worker.tasks, worker.celery_app")
    assert "web" not in tops(loaded), sorted(m for m in loaded if m.startswith("web"))
    assert "worker.tasks" in loaded and "sklearn" in tops(loaded), "the worker is the tier that builds"


def test_web_tier_loads_neither_the_build_stack_nor_the_worker_tasks():
    loaded = modules_after("import web; web.create_app()")
    assert not {"sklearn", "scipy"} & tops(loaded), sorted(m for m in loaded if m.split(".")[0] in ("sklearn", "scipy"))
    assert "worker.tasks" not in loaded and "recommender.builder" not in loaded
    assert "worker.queue" in loaded, "the web tier sends jobs by name through the shared queue module"


@pytest.mark.parametrize("module", ["recommender.model", "recommender.pipeline", "recommender.builder",
                                    "recommender.catalog.sources", "recommender.settings"])
def test_core_imports_neither_flask_nor_celery(module):
    loaded = tops(modules_after(f"import {module}"))
    assert not {"flask", "celery", "web", "worker"} & loaded, module


PACKAGES = ("recommender", "web", "worker")
TOP_LEVEL_MAX = {"recommender": 15, "web": 12}


def project_modules() -> dict[str, Path]:
    """Every module of the three packages by dotted name (Alembic's migration scripts are data, not modules)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_modules(name: str, path: Path, modules: dict) -> set[str]:
    """The project modules `name` imports anywhere in its file, inside functions too."""
    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {known(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else known(base) for a in node.names}
    return found - {None, name}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycle_from(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the modules along it, or None (depth-first, three colours)."""
    state, trail = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        trail.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_counting_imports_inside_functions():
    assert cycle_from(import_graph()) is None, " -> ".join(cycle_from(import_graph()))


def test_cycle_finder_finds_a_cycle():
    assert cycle_from({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle_from({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_back_from_its_own_package_face():
    modules = project_modules()
    back = [f"{name} -> {target}" for name, targets in import_graph().items() for target in targets
            if modules[target].name == "__init__.py" and name.startswith(target + ".")]
    assert not back, back


@pytest.mark.parametrize("package", sorted(TOP_LEVEL_MAX))
def test_few_modules_directly_in_a_package(package):
    direct = sorted(p.name for p in (ROOT / package).glob("*.py"))
    assert len(direct) <= TOP_LEVEL_MAX[package], direct


def test_no_two_modules_share_a_file_name():
    names: dict[str, list[str]] = {}
    for name, path in project_modules().items():
        if path.name != "__init__.py":
            names.setdefault(path.name, []).append(name)
    assert not {n: where for n, where in names.items() if len(where) > 1}
