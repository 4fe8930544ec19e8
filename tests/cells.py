"""The lesson's copy of a function or class: the one notebook cell that defines it, executed on its own.

helpers holds tested copies of what the notebooks write out in full (rasbt/LLMs-from-scratch's pattern); each test
that uses this module checks that a notebook's cell and its copy in helpers agree.
"""

from __future__ import annotations

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
    """Execute that cell (after ``prelude``, with ``names`` as globals) and return its namespace."""
    namespace: dict = dict(names)
    exec(
        compile(prelude + "\n" + cell_defining(notebook, name, kind), str(NOTEBOOKS / notebook), "exec"),
        namespace,
    )
    return namespace
