"""The package layout keeps its promises: no import cycle (function-local imports included), the
engine knows nothing of the KMS model, the traces or the command line, and loading the command
line loads no model.

The graph is computed from the sources with ``ast``, so an import hidden inside a function counts
as much as one at the top of a file: hiding a cycle is not breaking it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent

# Source folders and the package each is installed as (pyproject's package-dir).
FOLDERS = {
    "mrkcheck": "mrkcheck",
    "model": "mrkcheck.model",
    "properties": "mrkcheck.properties",
    "traces": "mrkcheck.traces",
}
ENGINE = ("mrkcheck.lang", "mrkcheck.check", "mrkcheck.serve")
ABOVE_THE_ENGINE = (
    "mrkcheck.model",
    "mrkcheck.properties",
    "mrkcheck.traces",
    "mrkcheck.cli",
    "mrkcheck.ci",
)


def module_files() -> dict[str, Path]:
    """Every module of the shipped package, by its import name."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imported_names(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Absolute names of everything ``module`` imports, anywhere in it (functions included).
    ``from a import b`` yields ``a`` and ``a.b`` (the caller keeps what is a module). Imports
    under ``if TYPE_CHECKING:`` are left out: they never run, they only name a type."""
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in _executed_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _executed_nodes(node: ast.AST):
    """Every node under ``node`` except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
            yield from (n for orelse in child.orelse for n in (orelse, *_executed_nodes(orelse)))
            continue
        yield child
        yield from _executed_nodes(child)


def import_graph() -> nx.DiGraph:
    files = module_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        names = imported_names(tree, module, path.name == "__init__.py")
        # ``from a import b``: an edge to ``a.b`` when it is a module, else to ``a``
        targets = {n for n in names if n in files}
        targets -= {n.rpartition(".")[0] for n in targets}  # a.b imported: not also a
        targets.discard(module)
        graph.add_edges_from((module, target) for target in targets)
    return graph


def test_the_sources_are_found():
    graph = import_graph()
    for module in ("mrkcheck.cli", "mrkcheck.check.explicit", "mrkcheck.model.kms"):
        assert module in graph
    assert ("mrkcheck.check.explicit", "mrkcheck.check.compile") in graph.edges


def test_a_function_local_import_is_an_edge():
    """The test sees imports hidden in functions (a cycle hidden there is still a cycle)."""
    tree = ast.parse("def f():\n    from .b import c\n")
    assert "pkg.b.c" in imported_names(tree, "pkg.a", is_package=False)
    assert "pkg.b" in imported_names(tree, "pkg.a", is_package=False)


def test_a_type_checking_import_is_not_an_edge():
    tree = ast.parse("if TYPE_CHECKING:\n    from .b import C\nelse:\n    import d\n")
    assert imported_names(tree, "pkg.a", is_package=False) == {"d"}


def test_no_import_cycle():
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert nx.is_directed_acyclic_graph(graph), "import cycles:\n" + "\n".join(
        " -> ".join([*cycle, cycle[0]]) for cycle in cycles
    )


def test_the_engine_imports_nothing_above_it():
    graph = import_graph()
    wrong = [
        (source, target)
        for source, target in graph.edges
        if source.startswith(ENGINE) and target.startswith(ABOVE_THE_ENGINE)
    ]
    assert wrong == []


def test_the_command_line_loads_no_model():
    """The KMS model is loaded when a command names it, through the registry, not on import."""
    code = "import sys, mrkcheck.cli; print(sorted(m for m in sys.modules if 'model' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = eval(out)  # a list of module names
    assert [m for m in loaded if m.startswith(("mrkcheck.model", "mrkcheck.properties"))] == []
    assert "mrkcheck.lang.model" in loaded  # the engine's Model, which is not the KMS model


def test_notebooks_draw_results_with_the_viewers_of_the_traces_package():
    """The engine draws nothing itself: once mrkcheck.traces is imported (the viewers register
    there), a result shows as the HTML page of the viewer, not the engine's plain table."""
    code = (
        "from mrkcheck.check.explicit import check\n"
        "from mrkcheck.check.result import NOTEBOOK_VIEWS\n"
        "from mrkcheck.examples.twophase import build\n"
        "result = check(build())\n"
        "print(sorted(NOTEBOOK_VIEWS), result._repr_html_().startswith('<p><b>'))\n"
        "import mrkcheck.traces\n"
        "print(sorted(NOTEBOOK_VIEWS), result._repr_html_().startswith('<p><b>'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.splitlines()
    assert before == "[] True"
    assert after == "['result_html', 'trace_html', 'trace_png'] False"
