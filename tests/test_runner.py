"""tools.runner's check step: `make run` runs each notebook's tools/nb_checks on what it recorded, and fails loudly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_prose import doc
from tools import runner


def recorded(stem: str) -> dict:
    """What the committed notebook recorded in its last cell: the results of a real default (full) run."""
    results = doc(stem[:2]).results
    assert results, f"{stem}: no recorded results in the committed outputs"
    return results


@pytest.mark.parametrize("nb", runner.notebooks(), ids=lambda p: p.stem)
def test_the_committed_default_run_meets_every_target(nb: Path) -> None:
    results = recorded(nb.stem)
    assert not results.get("smoke"), f"{nb.name} holds a smoke run's outputs"
    assert runner.check_results({nb.stem: results}, [nb.stem]) == []


@pytest.mark.parametrize(
    ("stem", "key", "value"),
    [
        ("04_training", "resume_max_diff", 0.5),  # a resumed run must end on the uninterrupted run's weights
        ("00_start_here", "n_params", 99),  # not the published count
    ],
)
def test_a_missed_target_names_the_notebook_and_the_figure(stem: str, key: str, value: float) -> None:
    doctored = {**recorded(stem), key: value}
    [failure] = runner.check_results({stem: doctored}, [stem])
    assert failure.startswith(f"{stem}: assert ") and f"results['{key}']" in failure, failure
    assert str(value) in failure.split(" -> ", 1)[1], (
        failure
    )  # the assertion's message shows the recorded value


@pytest.mark.parametrize(
    ("stem", "key", "value"),
    [
        ("04_training", "train_seconds", 99_999.0),  # a slow laptop: 04 trained for more than a day
        ("04_training", "peak_rss_mb", 99_999.0),  # a machine whose allocator keeps more
        ("00_start_here", "load_seconds", 999.0),
        ("07_scaling_up", "ddp_seconds", 9_999.0),
        ("08_qlora_on_a_cpu", "qlora_seconds", 9_999.0),
    ],
)
def test_a_slow_machine_misses_no_target(stem: str, key: str, value: float) -> None:
    """Whether the course works is never decided by how fast the machine is: times belong to benchmarks/."""
    assert runner.check_results({stem: {**recorded(stem), key: value}}, [stem]) == []


def test_missing_results_or_checks_are_failures_too() -> None:
    results = {"04_training": {"_run": {"status": "ok", "seconds": 1.0}}, "99_nowhere": {"x": 1}}
    no_results, no_module = runner.check_results(results, ["04_training", "99_nowhere"])
    assert no_results.startswith("04_training: recorded no results"), no_results
    assert no_module.startswith("99_nowhere: cannot import its checks, tools.nb_checks.nb_99_nowhere"), (
        no_module
    )


def test_check_a_doctored_results_json_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`python -m tools.runner --check runs/<stamp>/results.json`: what `make run` does after executing."""
    run = {
        stem: {**recorded(stem), "_run": {"status": "ok", "seconds": 1.0}}
        for stem in ("00_start_here", "04_training")
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(run), encoding="utf-8")
    assert runner.main(["--check", str(path)]) == 0
    assert "Checks passed" in capsys.readouterr().out

    run["04_training"]["resume_max_diff"] = 0.5
    path.write_text(json.dumps(run), encoding="utf-8")
    assert runner.main(["--check", str(path)]) == 1
    err = capsys.readouterr().err
    print(err)
    assert "CHECKS FAILED: 1 of 2 notebooks" in err
    assert "CHECK FAILED 04_training: assert results['resume_max_diff'] < 1e-05" in err and "-> 0.5" in err


def test_the_checks_path_imports_no_test_module(tmp_path: Path) -> None:
    """`make run`'s checks (tools.runner --check) load tools/nb_checks, never tests/ or pytest: the product never
    imports its tests (an installed course has none)."""
    import subprocess
    import sys

    from helpers.env import ROOT

    run = {
        stem: {**recorded(stem), "_run": {"status": "ok", "seconds": 1.0}}
        for stem in ("00_start_here", "05_evaluation")
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(run), encoding="utf-8")
    code = (
        "import sys, helpers; from tools import runner; code = runner.main(['--check', sys.argv[1]]); "
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('tests', 'pytest', '_pytest')); "
        "print(code, leaked)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout
