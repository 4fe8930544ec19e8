"""The committed outputs of cells tagged ``nbval-check-output`` (or marked ``# NBVAL_CHECK_OUTPUT``), compared with a smoke run's, as nbval does.

tests/smoke.py checks each notebook's one smoke execution (papermill, or JupyterLab for three notebooks) and
compares its marked cells with the committed ones here, with the rules of ``pytest --nbval-lax`` (nbval 0.11, ``nbval/plugin.py``), which ran the
notebooks a second time before:

- a cell is compared when a line of its source is a whole-line comment ``# NBVAL_CHECK_OUTPUT`` (or it carries the
  tag ``nbval-check-output``); a later ``# NBVAL_IGNORE_OUTPUT`` wins, comments win over tags. A marker at the end of
  a code line (``print(x)  # NBVAL_CHECK_OUTPUT``) is not a whole-line comment: nbval does not compare that cell,
  and neither do we;
- a committed cell that never ran (no execution count) is not compared;
- the streams of one name are joined, and a line's text up to a ``\\r`` not followed by a newline is dropped (a
  progress bar's overwritten states; nbval's backspace step never runs: its loop condition is false from the start);
- then every output field is compared except ``SKIPPED``: stream text by stream name, each MIME type of
  ``display_data`` and ``execute_result`` (``text/plain``, ``text/html``, ...; images and widget ids are skipped),
  an error's ``ename`` and ``evalue``. Both sides must have the same fields, the same number of outputs per field,
  and equal values, in order.

Nothing is sanitized (the Makefile never passed ``--nbval-sanitize-with``). To cross-check with nbval itself:
``pip install "nbval>=0.11,<0.12"`` and ``pytest notebooks --nbval-lax --ignore=notebooks/zh``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import nbformat

#: Output fields nbval never compares (nbval 0.11 ``IPyNbFile.skip_compare``, without ``--nbdime``).
SKIPPED = frozenset(
    {
        "metadata",
        "traceback",
        "prompt_number",
        "output_type",
        "name",
        "execution_count",
        "application/vnd.jupyter.widget-view+json",  # model ids are random
        "image/png",
        "image/jpeg",
    }
)
_MARKERS = {"NBVAL_CHECK_OUTPUT": True, "NBVAL_IGNORE_OUTPUT": False, "PYTEST_VALIDATE_IGNORE_OUTPUT": False}
_TAGS = {"nbval-check-output": True, "nbval-ignore-output": False, "pytest-validate-ignore-output": False}
_CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)


def is_checked(cell: dict) -> bool:
    """Whether nbval --nbval-lax compares this cell's outputs: its tags, then its whole-line comments (last wins)."""
    if cell["cell_type"] != "code":
        return False
    check = False
    tags = cell.get("metadata", {}).get("tags")
    for tag in tags if isinstance(tags, list) else []:
        check = _TAGS.get(tag, check)
    for line in cell["source"].splitlines():
        line = line.strip()
        if line.startswith("#"):
            check = _MARKERS.get(line.lstrip("#").strip(), check)
    return check


def _coalesced(outputs: list) -> list[dict]:
    """Outputs with every stream of one name joined into its first occurrence (nbval's ``coalesce_streams``)."""
    merged: list[dict] = []
    streams: dict[str, dict] = {}
    for out in outputs:
        out = dict(out)
        if out["output_type"] == "stream":
            if out["name"] in streams:
                streams[out["name"]]["text"] += out["text"]
                continue
            streams[out["name"]] = out
        merged.append(out)
    for out in streams.values():
        out["text"] = _CARRIAGE_RETURN.sub("", out["text"])
    return merged


def comparable(outputs: list) -> dict[str, list]:
    """What nbval compares: field (stream name or MIME type, ``ename``, ...) -> its values in output order."""
    fields: dict[str, list] = defaultdict(list)
    for out in _coalesced(outputs):
        if out["output_type"] == "stream":
            out = {"output_type": "stream", out["name"]: out["text"]}
        for key, value in out.items():
            if key in SKIPPED:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIPPED:
                        fields[mime].append(data)
            else:
                fields[key].append(value)
    return dict(fields)


def _first_difference(committed, executed) -> str:
    """The first line where two values differ, both sides shown."""
    if not (isinstance(committed, str) and isinstance(executed, str)):
        return f"  committed: {committed!r}\n  smoke run: {executed!r}"
    old, new = committed.splitlines(), executed.splitlines()
    for i in range(max(len(old), len(new))):
        a = old[i] if i < len(old) else "<no such line>"
        b = new[i] if i < len(new) else "<no such line>"
        if a != b:
            return f"  first difference at line {i + 1}:\n  committed: {a!r}\n  smoke run: {b!r}"
    return f"  they differ in line endings only:\n  committed: {committed!r}\n  smoke run: {executed!r}"


def _cell_difference(committed: dict, executed: dict) -> str | None:
    """Why nbval would fail this cell (its message, without the cell's name), or None."""
    ref, test = comparable(committed["outputs"]), comparable(executed["outputs"])
    if set(ref) - set(test):
        return f"the smoke run lacks output fields the committed cell has: {sorted(set(ref) - set(test))}"
    if set(test) - set(ref):
        return f"the smoke run has output fields the committed cell lacks: {sorted(set(test) - set(ref))}"
    for key, ref_values in ref.items():
        test_values = test[key]
        if len(ref_values) != len(test_values):
            return f"{key}: {len(ref_values)} output(s) committed, {len(test_values)} in the smoke run"
        for ref_value, test_value in zip(ref_values, test_values, strict=True):
            if ref_value != test_value:
                return f"{key} differs;\n{_first_difference(ref_value, test_value)}"
    return None


def output_differences(committed: Path, executed: Path) -> list[str]:
    """One message per cell of ``committed`` marked ``# NBVAL_CHECK_OUTPUT`` whose outputs nbval would reject.

    ``executed`` is the smoke run of the same notebook (papermill adds cells, such as the injected parameters; the
    cells are matched by their id).
    """
    ref_nb = nbformat.read(committed, as_version=4)
    twins = {cell.get("id"): cell for cell in nbformat.read(executed, as_version=4).cells}
    problems = []
    code_cells = [cell for cell in ref_nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells):  # nbval's "Cell <number>" counts code cells from 0
        if not is_checked(cell) or cell.get("execution_count") is None:
            continue
        where = f"{committed.name}, cell {cell.get('id')} (code cell {number}, first line {cell.source.splitlines()[0]!r})"
        twin = twins.get(cell.get("id"))
        if twin is None:
            problems.append(f"{where}: no cell with this id in the smoke run")
            continue
        why = _cell_difference(cell, twin)
        if why:
            problems.append(f"{where}: the output differs from the committed one: {why}")
    return problems
