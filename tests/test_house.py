"""The house rules a newcomer relies on, checked so that breaking one fails CI.

1. Imports run one way: ingest -> retriever -> generator -> eval / server, with ``clinrag/`` as
   the shared ground below every stage. Every import is read from the source (module level and
   inside functions alike), so a lazy backward import is caught too.
2. No module outside ``tests/`` is over ~400 lines unless its docstring says why.
3. Constructors only store what they are given: no ``__init__`` in ingest/, retriever/ or
   generator/ loads a model or builds an index structure (the ``load``/``build``/``open``
   class methods do, docs/runtime.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

# Lower number = lower layer. A module may import its own package and any lower layer.
LAYERS = {"clinrag": 0, "ingest": 1, "retriever": 2, "generator": 3, "eval": 4, "server": 4}
# The command line sits above every stage: these dispatch to the stages' own CLIs and are
# imported by nothing but the console script (checked below).
ENTRY_POINTS = {"clinrag.cli", "clinrag.demo", "clinrag.train"}
MAX_LINES = 400
SLACK = 20        # "~400": a module a few lines over is not worth splitting
LONG_MODULE_NOTE = "longer than ~400 lines because"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the source, however deeply nested."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(module: str, source: str) -> list[str]:
    """Each import of ``module``'s source that goes against the layering, as a message."""
    own = module.split(".")[0]
    out = []
    for line, target in imported_modules(source):
        top = target.split(".")[0]
        if top not in LAYERS:
            continue                                   # the standard library, third parties
        if target in ENTRY_POINTS:
            if module not in ENTRY_POINTS:
                out.append(f"{module}:{line} imports the entry point {target}")
            continue
        if module in ENTRY_POINTS or top == own:
            continue
        if LAYERS[top] >= LAYERS[own]:
            out.append(f"{module}:{line} imports {target} ({top} is not below {own})")
    return out


def package_modules() -> list[Path]:
    return sorted(p for package in LAYERS for p in (REPO / package).rglob("*.py"))


def test_the_checker_catches_backward_sideways_and_lazy_imports():
    lazy = "def f():\n    from generator.answerability import term_coverage\n"
    assert violations("retriever.hybrid", lazy) == [
        "retriever.hybrid:2 imports generator.answerability (generator is not below retriever)"]
    assert violations("eval.harness", "import server.app\n")          # siblings stay apart
    assert violations("ingest.pipeline", "from clinrag.cli import main\n")
    assert violations("clinrag.settings", "import ingest\n")          # the ground imports no stage
    assert not violations("generator.answer", "from retriever.hybrid import Retriever\n"
                                              "from clinrag.settings import Settings\n")
    assert not violations("clinrag.demo", "from generator.cli import main\n")


def test_imports_run_one_way():
    modules = package_modules()
    assert len(modules) > 80, "the package folders were not found"
    found = [v for path in modules
             for v in violations(module_name(path), path.read_text("utf-8"))]
    assert found == [], "imports against the layering:\n" + "\n".join(found)


def test_no_module_outside_tests_is_long_without_saying_why():
    roots = [*LAYERS, "bench", "data"]
    paths = sorted(p for root in roots for p in (REPO / root).rglob("*.py"))
    too_long = []
    for path in paths:
        text = path.read_text("utf-8")
        if text.count("\n") <= MAX_LINES + SLACK:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if LONG_MODULE_NOTE not in docstring.lower():
            too_long.append(f"{path.relative_to(REPO)} ({text.count(chr(10))} lines)")
    assert too_long == [], ("split these by what their parts do, or say in the docstring "
                            f"'{LONG_MODULE_NOTE} ...':\n" + "\n".join(too_long))


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_layer_is_a_package_the_wheel_ships(package):
    assert (REPO / package / "__init__.py").is_file()
    pyproject = (REPO / "pyproject.toml").read_text("utf-8")
    assert f'"{package}*"' in pyproject


# What loading a model or building an index structure looks like in a constructor's body.
LOADING_CALLS = {"from_pretrained", "SentenceTransformer", "load_sequence_classifier",
                 "build_hnsw", "index_cpu_to_gpu", "csc_matrix", "load", "build", "open",
                 "read_index"}
STORING_PACKAGES = ("ingest", "retriever", "generator")


def loading_constructors(module: str, source: str) -> list[str]:
    """``module:line Class.__init__ calls NAME`` for each loading call inside an __init__."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not (isinstance(item, ast.FunctionDef) and item.name == "__init__"):
                continue
            for call in ast.walk(item):
                if isinstance(call, ast.Call):
                    name = getattr(call.func, "attr", getattr(call.func, "id", ""))
                    if name in LOADING_CALLS:
                        out.append(f"{module}:{call.lineno} {node.name}.__init__ calls {name}")
    return out


def test_the_constructor_checker_sees_a_loader_in_an_init():
    loads = "class A:\n    def __init__(self, spec):\n        self.m = X.from_pretrained(spec)\n"
    assert loading_constructors("generator.x", loads) == [
        "generator.x:3 A.__init__ calls from_pretrained"]
    stores = ("class A:\n    def __init__(self, m):\n        self.m = m\n"
              "    @classmethod\n    def load(cls, spec):\n        return cls(X.from_pretrained(spec))\n")
    assert loading_constructors("generator.x", stores) == []


def test_constructors_only_store_what_they_are_given():
    paths = sorted(p for package in STORING_PACKAGES for p in (REPO / package).rglob("*.py"))
    found = [v for path in paths
             for v in loading_constructors(module_name(path), path.read_text("utf-8"))]
    assert found == [], "constructors that load or build (move it to a classmethod):\n" + \
        "\n".join(found)
