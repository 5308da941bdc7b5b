"""Checks the package's import graph: no circle, and no module imports a higher layer.

    python tools/import_graph.py [--print]

Reads every module of src/neuronperf_native with ast (nothing is imported), takes
each import of a package module (at module level or inside a function; imports
under ``if TYPE_CHECKING:`` are left out, they never run; importing a.b.c also
runs a.b's __init__, unless the importer is inside a.b), and checks two rules:

- no circle: no module reaches itself through imports;
- layers: each module sits in one of LAYERS (lowest first) and imports only modules
  of its own layer or lower ones (data flows settings -> plan -> executor ->
  results -> report; nothing below the executors imports one).

Prints each violation on one line and exits 1 when there is any; --print also
lists every edge with its layers. CI runs it (.ci/run).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "neuronperf_native"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE

# Lowest first. A module belongs to the first entry that names it or a package above
# it ("run" holds run.results, run.observers ...). The package __init__ (the public
# names) sits below the command line, which uses them.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "_engine", "_numbers", "_verbosity", "_files", "_fork_safety", "_frameworks"),
    ("streaming",),
    ("engine", "timing", "devices", "_schedule"),
    ("stats", "inputs", "model_index", "metrics", "_plot", "prompts"),
    ("analysis",),
    ("settings", "planning", "workload", "targets"),
    ("run",),
    ("copies",),
    ("executors",),
    ("reporters", "reporting", "request_log"),
    ("search", "benchmarking", "compiling", "serving"),
    ("cpu", "torch", "tensorflow", "mxnet", "launcher", "generative"),
    ("__init__",),
    ("cli", "__main__", "_spawn_alias"),
)


def module_name(path: Path) -> str:
    """'run.results' for src/neuronperf_native/run/results.py; '__init__' for the
    package's own __init__ (a subpackage's __init__ is the subpackage)."""
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module by name: sources, and compiled modules by their stubs (.pyi)."""
    found = {module_name(p): p for p in sorted(SOURCE.rglob("*.pyi"))}
    found.update({module_name(p): p for p in sorted(SOURCE.rglob("*.py"))})
    return found


def layer_of(module: str) -> int:
    parts = module.split(".")
    for rank, names in enumerate(LAYERS):
        if any(".".join(parts[:n]) in names for n in range(len(parts), 0, -1)):
            return rank
    raise SystemExit(f"tools/import_graph.py: module {module} is in no layer: add it to LAYERS")


class _Imports(ast.NodeVisitor):
    """The package modules one module imports (TYPE_CHECKING blocks left out)."""

    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".") if self.package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([PACKAGE, *base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        for alias in node.names:
            # `from pkg import submodule` imports the submodule; anything else is pkg's.
            if not self._add(f"{target}.{alias.name}", exact=True):
                self._add(target)

    def _add(self, dotted: str, exact: bool = False) -> bool:
        if dotted != PACKAGE and not dotted.startswith(PACKAGE + "."):
            return False
        name = dotted[len(PACKAGE) + 1 :] or "__init__"
        while name not in self.known:
            if exact or "." not in name:
                return False
            name = name.rpartition(".")[0]
        # Importing a.b.c first runs the __init__ of a.b (its own package's is
        # already running when the importer is inside it).
        parts = name.split(".")
        for n in range(1, len(parts) + 1):
            target = ".".join(parts[:n])
            inside = self.module == target or self.module.startswith(target + ".")
            if target in self.known and not inside:
                self.found.add(target)
        return True


def graph() -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    found = modules()
    known = set(found)
    edges = {}
    for name, path in found.items():
        visitor = _Imports(name, path.name == "__init__.py" and name != "__init__", known)
        if path.suffix == ".py":
            visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges[name] = visitor.found
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> int:
    edges = graph()
    problems = [f"circle: {' <-> '.join(c)}" for c in circles(edges)]
    for module in sorted(edges):
        for imported in sorted(edges[module]):
            if layer_of(imported) > layer_of(module):
                problems.append(
                    f"upward: {module} (layer {layer_of(module)}) imports {imported} "
                    f"(layer {layer_of(imported)})"
                )
            if "--print" in argv:
                print(f"{module} [{layer_of(module)}] -> {imported} [{layer_of(imported)}]")
    for line in problems:
        print(line)
    n_edges = sum(len(v) for v in edges.values())
    print(f"{len(edges)} modules, {n_edges} imports, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
