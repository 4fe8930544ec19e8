"""Execute every notebook once in smoke mode and check it (tests/smoke.py): with papermill here, or in JupyterLab
by tests/test_ui.py for the notebooks it opens (``smoke.IN_BROWSER``), so that no notebook runs twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.runner import notebooks
from tests.smoke import FRESH_ARTIFACTS, check_smoke_run, run_notebook, runs_in_browser, write_probed


@pytest.mark.slow
@pytest.mark.parametrize("nb", notebooks(), ids=lambda p: p.stem)
def test_notebook_smoke(nb: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The one execution of each notebook per `make test`. Its recorded results are checked; every exercise is tried
    three ways (unanswered, wrong, solved) in the same kernel by a probe cell appended to a copy of the notebook; and
    every cell marked ``# NBVAL_CHECK_OUTPUT`` must print what the committed notebook shows, as under nbval."""
    if runs_in_browser(nb.stem, request.session):
        pytest.skip("executed once, in JupyterLab, by tests/test_ui.py, which applies the same checks")
    probed = write_probed(nb, tmp_path / "in" / nb.name)
    env = {}
    artifacts = None
    if nb.stem in FRESH_ARTIFACTS:
        artifacts = tmp_path / "artifacts"
        artifacts.mkdir()
        env["LORA_LAB_ARTIFACTS"] = str(artifacts)
    run_notebook(probed, tmp_path, env=env)
    check_smoke_run(nb, tmp_path / nb.name, tmp_path, artifacts)
