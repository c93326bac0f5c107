"""Three tiers, one direction: the core imports neither tier, the worker never needs the web tier,
and web processes never load the build stack. Each check imports in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import ROOT

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
