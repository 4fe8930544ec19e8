"""tests/nb_outputs.py compares what nbval --nbval-lax compared, and fails with the cell and the line that differ."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from helpers.env import ROOT
from tests.nb_outputs import comparable, is_checked, output_differences

NB00 = ROOT / "notebooks" / "00_start_here.ipynb"
CELL00 = "4949f2d1"  # 00's marked cell: the parameter count of the embedded model


def _code(source: str, tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": tags} if tags else {}}


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


@pytest.mark.parametrize(
    ("cell", "checked"),
    [
        (_code("# NBVAL_CHECK_OUTPUT\nprint(1)"), True),
        (_code("x = 1\n  #  NBVAL_CHECK_OUTPUT  \nprint(x)"), True),
        (_code("print(1)  # NBVAL_CHECK_OUTPUT"), False),  # not a whole-line comment: nbval 0.11 skips it
        (_code("# NBVAL_CHECK_OUTPUT\n# NBVAL_IGNORE_OUTPUT\nprint(1)"), False),  # the last marker wins
        (_code("print(1)", tags=["nbval-check-output"]), True),
        (
            _code("# NBVAL_IGNORE_OUTPUT\nprint(1)", tags=["nbval-check-output"]),
            False,
        ),  # comments win over tags
        (_code("print(1)"), False),
        ({"cell_type": "markdown", "source": "# NBVAL_CHECK_OUTPUT", "metadata": {}}, False),
    ],
)
def test_which_cells_are_checked(cell: dict, checked: bool) -> None:
    assert is_checked(cell) is checked


def test_streams_are_joined_by_name_and_overwritten_progress_dropped() -> None:
    outputs = [
        _stream("a\n"),
        _stream("warn\n", "stderr"),
        {"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}, "execution_count": 7},
        _stream("10%\r50%\r100%\nb\n"),
    ]
    assert comparable(outputs) == {"stdout": ["a\n100%\nb\n"], "stderr": ["warn\n"], "text/plain": ["3"]}
    assert outputs[0]["text"] == "a\n", "the outputs passed in are left as they were"


def test_images_widget_ids_and_counters_are_not_compared() -> None:
    shown = {
        "output_type": "display_data",
        "data": {
            "image/png": "iVBORw0KGgo=",
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
            "text/plain": "<Figure size 640x480 with 1 Axes>",
        },
        "metadata": {"needs_background": "light"},
    }
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["..."]}
    assert comparable([shown, error]) == {
        "text/plain": ["<Figure size 640x480 with 1 Axes>"],
        "ename": ["ValueError"],
        "evalue": ["bad"],
    }


def test_the_committed_notebook_matches_itself_and_its_marked_cell_is_compared() -> None:
    assert output_differences(NB00, NB00) == []
    cell = next(c for c in nbformat.read(NB00, as_version=4).cells if c.get("id") == CELL00)
    assert is_checked(cell)
    assert comparable(cell["outputs"])["stdout"][0].startswith("LlamaForCausalLM: 134,515,008 parameters\n")


def _doctored(tmp_path: Path, change) -> Path:
    """A copy of notebook 00 with ``change(cell)`` applied to its marked cell."""
    data = json.loads(NB00.read_text(encoding="utf-8"))
    change(next(c for c in data["cells"] if c.get("id") == CELL00))
    path = tmp_path / NB00.name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_an_altered_line_is_named_with_the_notebook_and_the_cell(tmp_path: Path) -> None:
    def change(cell: dict) -> None:
        cell["outputs"][0]["text"][1] = "layers=31 hidden=576 vocab=49152\n"  # committed: layers=30

    [message] = output_differences(_doctored(tmp_path, change), NB00)
    assert message.startswith(f"00_start_here.ipynb, cell {CELL00} (code cell "), message
    assert "stdout differs" in message and "first difference at line 2" in message, message
    assert "committed: 'layers=31 hidden=576 vocab=49152'" in message, message
    assert "smoke run: 'layers=30 hidden=576 vocab=49152'" in message, message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda cell: cell["outputs"].append(_stream("more\n", "stderr")), "lacks output fields"),
        (lambda cell: cell["outputs"].clear(), "has output fields the committed cell lacks"),
        (
            lambda cell: cell["outputs"].append(
                {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}
            ),
            "lacks output fields the committed cell has: ['text/plain']",
        ),
        (lambda cell: cell.update(id="renamed"), "no cell with this id in the smoke run"),
    ],
)
def test_missing_extra_or_unmatched_outputs_fail(tmp_path: Path, change, expected: str) -> None:
    [message] = output_differences(_doctored(tmp_path, change), NB00)
    assert expected in message, message


def test_a_cell_the_committed_run_never_executed_is_not_compared(tmp_path: Path) -> None:
    def change(cell: dict) -> None:
        cell["outputs"], cell["execution_count"] = [], None

    assert output_differences(_doctored(tmp_path, change), NB00) == []


def test_the_count_of_one_kind_of_output_must_match(tmp_path: Path) -> None:
    def change(cell: dict) -> None:
        shown = {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}
        cell["outputs"] += [shown, copy.deepcopy(shown)]

    executed = _doctored(
        tmp_path / "executed",
        lambda cell: cell["outputs"].append(
            {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}
        ),
    )
    [message] = output_differences(_doctored(tmp_path, change), executed)
    assert "text/plain: 2 output(s) committed, 1 in the smoke run" in message, message
