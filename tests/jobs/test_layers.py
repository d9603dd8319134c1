"""The jobs app in layers: every import between its modules (at the top or inside a
function) goes down this list, so there is no cycle for an import inside a function to
hide; tasks are on top and the services enqueue them by name (jobs/queue.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import modelyard

SOURCE = Path(modelyard.__file__).parent
# Top first. A module may import only modules below it.
LAYERS = [
    {"apps", "urls"},
    # The web: the runs pages and the admin, beside the API.
    {"api", "tasks", "warm", "views", "admin"},
    {"process"},
    {"projects", "starts"},
    {"firing", "child"},
    {"events"},
    {"services"},
    {"executors", "sdk"},
    {"outputs", "lock", "queue", "spec", "sections"},
    {"cron", "models"},
]
RANK = {name: depth for depth, names in enumerate(LAYERS) for name in names}
# Imports inside functions are for ordering only. These wait for Django: the child and
# the SDK run before it is set up (`python -m modelyard.jobs.child`, a program importing
# modelyard.sdk) and import models once it is; an app's `ready` runs once models are loaded.
SET_UP_FIRST = {
    ("child", "models"),
    ("sdk", "models"),
    ("sdk", "outputs"),
    ("apps", "events"),
    ("apps", "tasks"),
}


def module_name(path: Path) -> str:
    return path.stem


def jobs_modules() -> dict[str, Path]:
    found = {module_name(p): p for p in (SOURCE / "jobs").glob("*.py") if p.stem != "__init__"}
    return {**found, "sdk": SOURCE / "sdk.py"}


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(jobs module imported, whether the import is inside a function), for every import
    that runs (not those for type checking only)."""
    tree = ast.parse(path.read_text())
    inside = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "modelyard.jobs":
                names = [alias.name for alias in node.names]
            elif node.module == "modelyard":
                names = [alias.name for alias in node.names if alias.name == "sdk"]
            elif node.module.startswith("modelyard.jobs.") or node.module == "modelyard.sdk":
                names = [node.module.rsplit(".", 1)[1]]
        elif isinstance(node, ast.Import):
            names = [
                alias.name.rsplit(".", 1)[1]
                for alias in node.names
                if alias.name.startswith("modelyard.jobs.") or alias.name == "modelyard.sdk"
            ]
        found += [(name, id(node) in inside) for name in names]
    return found


def test_every_module_has_a_layer() -> None:
    assert set(jobs_modules()) == set(RANK)


def test_imports_run_down_the_layers() -> None:
    upward = [
        f"{module} imports {imported}"
        for module, path in jobs_modules().items()
        for imported, _ in imports_of(path)
        if imported in RANK and RANK[imported] <= RANK[module]
    ]
    assert upward == []


def test_no_import_inside_a_function_but_those_waiting_for_django() -> None:
    hidden = [
        f"{module} imports {imported} inside a function"
        for module, path in jobs_modules().items()
        for imported, in_function in imports_of(path)
        if in_function and (module, imported) not in SET_UP_FIRST
    ]
    assert hidden == []
