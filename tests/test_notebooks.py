"""Execute every notebook once in smoke mode and check it (tests/smoke.py): with papermill here, or in JupyterLab
by tests/test_ui.py for the notebooks it opens (``smoke.IN_BROWSER``), so that no notebook runs twice.

Two of those runs also test where the course runs: 01 and 04 run as lone notebooks from the installed wheel
(``smoke.LONE``), and 02, 04 and 07 run without Linux-only facilities (``smoke.WITHOUT_LINUX``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.smoke import (
    FRESH_ARTIFACTS,
    LONE,
    WITHOUT_LINUX,
    check_smoke_run,
    install_course,
    run_notebook,
    runs_in_browser,
    without_linux,
    write_probed,
)
from tools.runner import notebooks


@pytest.fixture(scope="session")
def installed_course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fresh virtual environment holding the course wheel, installed as notebook 00 shows (tests/smoke.py)."""
    return install_course(tmp_path_factory.mktemp("installed-course"))


def _params() -> list:
    return [
        pytest.param(nb, marks=pytest.mark.xdist_group("installed-course")) if nb.stem in LONE else nb
        for nb in notebooks()
    ]


@pytest.mark.slow
@pytest.mark.parametrize("nb", _params(), ids=lambda p: p.stem)
def test_notebook_smoke(nb: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The one execution of each notebook per `make test`. Its recorded results are checked; every exercise is tried
    three ways (unanswered, wrong, solved) in the same kernel by a probe cell appended to a copy of the notebook; and
    every cell tagged ``nbval-check-output`` must print what the committed notebook shows, as under nbval."""
    if runs_in_browser(nb.stem, request.session):
        pytest.skip("executed once, in JupyterLab, by tests/test_ui.py, which applies the same checks")
    env: dict[str, str | None] = {}
    if nb.stem in WITHOUT_LINUX:
        env = without_linux({"PYTHONPATH": os.environ.get("PYTHONPATH")})
    if (
        nb.stem in LONE
    ):  # copied alone into an empty folder, run from the installed wheel: no checkout beside it
        python, kernel = request.getfixturevalue("installed_course")
        work = tmp_path / "work"
        probed = write_probed(nb, work / nb.name)
        env |= {"LORA_LAB_ARTIFACTS": None, "LORA_LAB_HOME": None}  # artifacts go under the working folder
        run_notebook(probed, tmp_path, env=env, cwd=work, python=python, kernel=kernel)
        written = sorted(p.name for p in work.iterdir())
        assert written == sorted([nb.name, "artifacts"]), written  # its artifacts, under the working folder
        check_smoke_run(
            nb, tmp_path / nb.name, tmp_path, work / "artifacts" if nb.stem in FRESH_ARTIFACTS else None
        )
        return
    probed = write_probed(nb, tmp_path / "in" / nb.name)
    artifacts = None
    if nb.stem in FRESH_ARTIFACTS:
        artifacts = tmp_path / "artifacts"
        artifacts.mkdir()
        env["LORA_LAB_ARTIFACTS"] = str(artifacts)
    run_notebook(probed, tmp_path, env=env)
    check_smoke_run(nb, tmp_path / nb.name, tmp_path, artifacts)
