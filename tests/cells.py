"""The lesson's copy of a function or class: the one notebook cell that defines it, executed on its own.

helpers holds tested copies of what the notebooks write out in full (rasbt/LLMs-from-scratch's pattern); each test
that uses this module checks that a notebook's cell and its copy in helpers agree.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cell_defining(notebook: str, name: str, kind: str = "def") -> str:
    """The source of the one code cell of ``notebooks/<notebook>`` that defines ``def name(`` (or ``class name(``)."""
    path = NOTEBOOKS / notebook
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and f"{kind} {name}(" in "".join(c["source"])
    ]
    assert len(found) == 1, (
        f"expected exactly one cell defining {kind} {name} in {path.name}, found {len(found)}"
    )
    return found[0]


def run_cell(notebook: str, name: str, *, kind: str = "def", prelude: str = "", **names: object) -> dict:
    """Execute that cell's definitions (its imports, functions, classes and constants; not the lines that
    demonstrate them on the notebook's data), after ``prelude``, with ``names`` as globals; return the namespace."""
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    tree = ast.parse(cell_defining(notebook, name, kind))
    tree.body = [
        node
        for node in tree.body
        if isinstance(node, keep) or (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant))
    ]
    namespace: dict = dict(names)
    exec(compile(prelude, "<prelude>", "exec"), namespace)
    exec(compile(tree, str(NOTEBOOKS / notebook), "exec"), namespace)
    return namespace
