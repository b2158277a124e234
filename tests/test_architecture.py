"""The package's shape: imports flow one way, without cycles or private names; modules
stay short and open with a docstring that says where the book teaches them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mcn"
MAX_LINES = 400

#: The order data flows in (DESIGN.md): a module may import its own layer and those
#: before it, never a later one. Utilities with no mcn imports of their own come first.
LAYERS = (
    ("mcn.provenance", "mcn.figures", "mcn.classes", "mcn.boxes", "mcn.benchmarks.timing"),
    ("mcn.data",),
    ("mcn.nn",),
    ("mcn.models",),
    ("mcn.corners", "mcn.joins", "mcn.targets", "mcn.losses", "mcn.decode", "mcn.multiscale",
     "mcn.export"),
    ("mcn.checkpoint",),
    ("mcn.inference", "mcn.predict"),
    ("mcn.evaluate", "mcn.mask_quality"),
    ("mcn.train",),
    ("mcn.experiments",),
    ("mcn.viz", "mcn.widgets", "mcn.cli", "mcn.benchmarks", "mcn.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of every import in a file,
    including those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return [item for item in found if item[0] == "mcn" or item[0].startswith("mcn.")]


def import_graph() -> dict[str, set[str]]:
    """Module -> the mcn modules it imports (``from mcn import x`` counts as mcn.x
    when x is a module)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        targets = set()
        for module, imported, _ in imports(path):
            submodule = f"{module}.{imported}" if imported else None
            targets.add(submodule if submodule in known else module)
        targets.discard(name)
        graph[name] = {t for t in targets if t in known}
    return graph


def layer(name: str) -> int:
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{name} belongs to no layer of LAYERS"
    return best[0]


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    # A package's __init__ re-exports its modules: edges from a package into its own
    # modules are how it lists them, not a dependency of those modules.
    graph = {name: {t for t in targets if not t.startswith(name + ".")}
             for name, targets in graph.items()}
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_imports_flow_one_way():
    wrong = []
    for name, targets in import_graph().items():
        if name == "mcn":
            continue  # the root imports its subpackages lazily, on attribute access
        for target in targets:
            if target != "mcn" and layer(target) > layer(name):
                wrong.append(f"{name} imports the later {target}")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_is_imported_across_modules():
    private = []
    for name, path in modules().items():
        for module, imported, line in imports(path):
            if imported and imported.startswith("_") and not imported.endswith("__"):
                private.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported} from {module}")
            if any(part.startswith("_") and part != "__main__" for part in module.split(".")):
                private.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports private module {module}")
    assert not private, "\n".join(private)


def test_no_module_is_longer_than_the_limit():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_module_opens_with_a_docstring_without_outside_references():
    for name, path in modules().items():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, f"{name} has no module docstring"
        for outside in ("REFERENCE.md", "../shared", "DESIGN.md"):
            assert outside not in path.read_text(), f"{name} mentions {outside}"


def test_modules_say_which_chapter_teaches_them():
    untaught = [name for name, path in modules().items()
                if not name.endswith("__main__") and "chapter" not in (
                    ast.get_docstring(ast.parse(path.read_text())) or "").lower()]
    assert not untaught, f"no chapter named in the docstring of {untaught}"


@pytest.mark.parametrize("name", ["multiscale", "experiments", "corners", "inference", "viz",
                                  "evaluate", "train", "nn"])
def test_subpackages_are_attributes_of_mcn(name):
    import mcn

    assert getattr(mcn, name) is importlib.import_module(f"mcn.{name}")
