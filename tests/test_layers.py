"""The package reads bottom-up: no import cycle, lazy or not (TYPE_CHECKING imports aside)."""

from __future__ import annotations

import ast
from pathlib import Path

import gradpoly

SOURCE = Path(gradpoly.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SOURCE.rglob("*.py")}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The gradpoly modules one import statement loads (a package's own names count as it)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module or ""
    subs = [f"{name}.{a.name}" for a in node.names if f"{name}.{a.name}" in MODULES]
    return subs + ([name] if len(subs) < len(node.names) else [])


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module -> the gradpoly modules it imports anywhere (function bodies included)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        graph[module] = {
            owner
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in typing_only
            for target in _targets(module, node)
            if (owner := _owner(target)) is not None and owner != module
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "gradpoly.many" in graph["gradpoly.dask"]  # imported inside a function
    assert "gradpoly.errors" in graph["gradpoly.options"]


LAYERS = {  # the design notes' picture (docs/design.md), bottom up
    0: "errors choices validation outputs private environment registry calling threads rowwise",
    1: "options bases losses mapping rates compensated _compensated_kernels refining updates gram "
    "timeaxis",
    2: "stats display result problem exact convergence selection calibration robust constraints "
    "monotone",
    3: "engines engines.base engines.aoti engines.package_builds engines.numpy_engine "
    "engines.torch_engine "
    "engines.jax_engine engines.numba_engine engines._numba_loops engines.dask_engine batched "
    "batched.batch "
    "batched.shared "
    "batched.base batched.numpy_batch batched.numba_batch batched._numba_kernels "
    "batched._monotone_kernels "
    "batched.torch_batch batched.jax_batch",
    4: "api many many.inputs many.solve many.prepare many.descent many.result many.refine "
    "many.sums many.finish "
    "many.api many.select many.robust seed derivative testing",
    5: "io dask xarray sklearn numpy",
    6: "cli cli.common cli.fit cli.commands cli.degree cli.calibrate cli.robust __main__ demo "
    "plots bench bench.harness bench.suite bench.ladder bench.derivatives bench.report",
}
LAYER = {f"gradpoly.{m}": k for k, names in LAYERS.items() for m in names.split()}
LAYER["gradpoly"] = 5  # the public surface (__all__) sits on the library it re-exports


def test_every_module_has_a_layer() -> None:
    assert set(import_graph()) == set(LAYER)


def test_modules_import_only_their_own_layer_or_below() -> None:
    upward = [
        f"{module} ({LAYER[module]}) imports {target} ({LAYER[target]})"
        for module, targets in import_graph().items()
        for target in targets
        if LAYER[target] > LAYER[module]
    ]
    assert upward == []
