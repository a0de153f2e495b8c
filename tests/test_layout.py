"""The package's shape: imports flow one way, and no module or function outgrows a reader."""

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "textrnn"
# a folder imports only folders before it
ORDER = ["text", "vectors", "nn", "inference", "serve", "training", "tools"]
LIGHTNING_FREE = {"text", "vectors", "nn", "inference", "serve"}
LONG_FUNCTIONS = {  # the exceptions, and why: signatures and docstrings of many documented arguments
    "TextClassificationData.__init__": "21 documented arguments",
    "Generator.generate": "10 documented keyword options; its body is 13 lines",
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def folder(module: str | Path) -> str | None:
    parts = Path(module).relative_to(PACKAGE).parts if isinstance(module, Path) else module.split(".")[1:]
    return parts[0] if len(parts) > 1 else None


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    here = folder(path)
    for name in imported(path):
        if not name.startswith("textrnn.") or here is None:
            continue
        there = folder(name)
        if there is None or there == here:
            continue
        assert ORDER.index(there) < ORDER.index(here), f"{here}/ imports {name}, which sits above it"
    if here in LIGHTNING_FREE:
        assert not any(n.split(".")[0] in ("lightning", "pytorch_lightning") for n in imported(path))


def test_no_module_or_function_outgrows_a_reader():
    long_modules, long_functions = [], {}
    for path in modules():
        tree = ast.parse(path.read_text())
        if len(path.read_text().splitlines()) > 300:
            long_modules.append(path.name)
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef) and child.end_lineno - child.lineno >= 40:
                    owner = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
                    long_functions[owner + child.name] = child.end_lineno - child.lineno + 1
    assert long_modules == []
    assert set(long_functions) <= set(LONG_FUNCTIONS), long_functions


def test_the_inference_side_never_names_a_data_module():
    for path in (PACKAGE / "inference").glob("*.py"):
        assert not any(n.startswith("textrnn.training") for n in imported(path)), path.name
