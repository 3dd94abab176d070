"""The import structure of src/raygen, checked statically: no import circles, and the algorithm modules
(parsing, regions, schema, normalize, calling, eval, scoring definitions, simulation) never reach Ray,
directly or through what they import. Only pipeline, runtime, train, serve and command modules may."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Algorithm modules (prefixes) and the Ray-layer modules inside those packages.
ALGORITHMS = ("raygen.regions", "raygen.schema", "raygen.io", "raygen.normalize", "raygen.calling", "raygen.eval",
              "raygen.simulate", "raygen.scoring.windows", "raygen.scoring.masked", "raygen.scoring.causal",
              "raygen.scoring.annotate", "raygen.annotate.join")
RAY_LAYER = {"raygen.io.datasource", "raygen.normalize.pipeline", "raygen.calling.pipeline", "raygen.simulate.api",
             "raygen.simulate"}  # simulate's package re-exports api.simulate_genome, which runs reads on Ray


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted((SRC / "raygen").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(tree: ast.Module, modules: dict) -> tuple[set[str], bool]:
    """(raygen modules imported anywhere in the file, whether it imports ray itself)."""
    deps, ray = set(), False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                ray |= a.name == "ray" or a.name.startswith("ray.")
                if a.name.startswith("raygen"):
                    deps.add(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            ray |= node.module == "ray" or node.module.startswith("ray.")
            if node.module.startswith("raygen"):
                for a in node.names:  # `from raygen.pkg import submodule` depends on the submodule
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in modules else node.module)
    return {d for d in deps if d in modules}, ray


def _graph():
    modules = _modules()
    edges, uses_ray = {}, {}
    for name, tree in modules.items():
        edges[name], uses_ray[name] = _imports(tree, modules)
    return edges, uses_ray


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    edges, _ = _graph()
    assert _cycles(edges) == []


def test_algorithm_modules_never_reach_ray():
    edges, uses_ray = _graph()
    bad = {}
    for name in edges:
        if not name.startswith(ALGORITHMS) or name in RAY_LAYER:
            continue
        seen, todo = set(), [name]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            if uses_ray[m]:
                bad[name] = m
                break
            todo.extend(edges[m])
    assert bad == {}, f"algorithm module -> a module that imports ray: {bad}"


def test_the_check_sees_what_it_claims(tmp_path):
    # a graph with a circle is caught; the ray check reads function-level imports too
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    tree = ast.parse("def f():\n    import ray.data\n")
    assert _imports(tree, {})[1]
