"""The package's folders are its import order, with no module cycle.

Folder order, lowest first: ``errors``/``choices``/``paths``/``cpu_dispatch``/``extras``
< ``interactions`` (and ``shapiq_interop``) < ``data`` < ``game`` < ``models`` < ``pipeline``
< ``stats`` < ``theory`` < ``claims`` < ``report`` < ``explanation`` < ``book``/``notebook_files``
< ``cli``. Every import of a ``twophase`` module counts: at the top of a file, inside a function,
under ``if TYPE_CHECKING:``. Imports inside functions are allowed only in the modules listed in
:data:`LAZY`, each with the reason (keeping ``import twophase`` or the CLI light).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "twophase"

RANKS = {
    "errors": 0, "choices": 0, "paths": 0, "cpu_dispatch": 0, "extras": 0,
    "interactions": 1, "shapiq_interop": 1,
    "data": 2, "game": 3, "models": 4, "pipeline": 5, "stats": 6, "theory": 7, "claims": 8,
    "report": 9, "explanation": 10, "book": 11, "notebook_files": 11, "cli": 12, "__main__": 13,
}

#: Modules allowed to import twophase modules inside functions, and why.
LAZY = {
    "twophase.models.registry": "only the model family asked for is imported (bert loads "
                                "transformers)",
    "twophase.pipeline.inputs": "data.tokenizer loads transformers",
    "twophase.pipeline.samples": "data.tokenizer loads transformers",
    "twophase.pipeline.storage": "data.tokenizer loads transformers",
    "twophase.pipeline.executor": "the CLI reads EXECUTORS at start and must not load torch",
    "twophase.cli": "`twophase --help` must not load torch",
    "twophase.book.cli": "`python -m twophase.book --help` must not load torch or sphinx",
    "twophase.explanation": "the user-facing entry point imports the solver and plots on use",
}


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(ROOT.rglob("*.py")):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path):
    """(target module, line, inside a function or TYPE_CHECKING block) of each twophase import."""
    tree = ast.parse(path.read_text())
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.If)):
            for child in ast.walk(node):
                if child is not node and isinstance(child, (ast.Import, ast.ImportFrom)):
                    nested.add(id(child))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.startswith("twophase"):
            targets = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("twophase")]
        else:
            continue
        for t in targets:
            r = _resolve(t)
            if r and r != "twophase":
                yield r, node.lineno, id(node) in nested


def _rank(module: str) -> int | None:
    parts = module.split(".")
    return RANKS.get(parts[1]) if len(parts) > 1 else None


def test_every_folder_has_a_rank():
    folders = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    assert folders <= set(RANKS), f"give these a place in RANKS: {sorted(folders - set(RANKS))}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "twophase"))
def test_no_import_from_a_higher_folder(module):
    src = _rank(module)
    up = [f"line {line}: {t}" for t, line, _ in _imports(MODULES[module])
          if src is not None and (_rank(t) or 0) > src]
    assert not up, f"{module} imports from a higher folder: {up}"


def test_imports_inside_functions_only_where_stated():
    found = {m: [f"{t} (line {line})" for t, line, inner in _imports(p) if inner]
             for m, p in MODULES.items() if m != "twophase"}
    stray = {m: v for m, v in found.items() if v and m not in LAZY}
    # TYPE_CHECKING blocks count as nested too; they are allowed (annotations only)
    stray = {m: [x for x in v if not _type_checking_only(m, x)] for m, v in stray.items()}
    stray = {m: v for m, v in stray.items() if v}
    assert not stray, f"imports inside functions outside LAZY: {stray}"


def _type_checking_only(module: str, entry: str) -> bool:
    line = int(entry.rsplit("line ", 1)[1].rstrip(")"))
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            if node.lineno <= line <= node.end_lineno:
                return True
    return False


def test_no_module_cycle():
    graph: dict[str, set[str]] = {}
    for m, p in MODULES.items():
        if m != "twophase":
            graph[m] = {t for t, _, _ in _imports(p) if t != m}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"module cycle: {' -> '.join(err.args[1])}")
