"""What a learner sees in JupyterLab: headless Chromium (Playwright) runs notebooks with the UI's own Run All.

The test starts JupyterLab on 127.0.0.1 with a token over a copy of the repository, in smoke mode (conftest.py's
environment), opens 00, 02 and 05 and checks that no cell shows an error, that the progress bars finish, that
each explorer answers a click with the value ``helpers`` computes, and that a second Run All in the same kernel
passes too. This Run All is these notebooks' one smoke execution per `make test`: the notebook is saved from
the page and gets the checks tests/test_notebooks.py gives the others (tests/smoke.py: recorded results,
exercises, cells tagged nbval-check-output), and 05 starts with an empty artifacts folder, so it rebuilds the adapter.
Screenshots go to ``runs/ui/``. JupyterLab, its kernels and Chromium are stopped at the end, even when a check
fails, and the test checks that none of their processes is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import expect

from helpers.env import HEADLESS_ENV, ROOT
from tests.smoke import CHROMIUM, IN_BROWSER, NO_LINUX, check_smoke_run, write_probed

SHOTS = ROOT / "runs" / "ui"
RUN_ALL = "Run All Cells"  # the Run menu's item
#: An error output as JupyterLab renders it (the traceback's header line).
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+(Error|Exception)\b.*Traceback", re.M)

pytestmark = [
    # one JupyterLab and one Chromium, on one worker (make test: --dist loadgroup)
    pytest.mark.xdist_group("ui"),
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (Debian; .ci/run does) "
        "to run the browser test, or point LORA_LAB_CHROMIUM at one",
    ),
]


# ---------------------------------------------------------------------------------------------------------------
# JupyterLab and Chromium, stopped at the end whatever happens
# ---------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[psutil.Process]:
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(procs: list[psutil.Process]) -> list[str]:
    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def _lab_copy(tmp: Path) -> Path:
    """A copy of notebooks/ beside links to everything else, so that Run All never rewrites a committed notebook."""
    root = tmp / "repo"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {"notebooks", ".git", "runs", ".venv"}:
            (root / entry.name).symlink_to(entry)
    shutil.copytree(
        ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    for stem in IN_BROWSER:  # with the exercise probe appended, as for a papermill smoke run
        write_probed(ROOT / "notebooks" / f"{stem}.ipynb", root / "notebooks" / f"{stem}.ipynb")
    return root


@pytest.fixture(scope="module")
def lab() -> Iterator[dict]:
    """JupyterLab on 127.0.0.1 with a token, in its own process group; its kernels are found and stopped too."""
    tmp = Path(tempfile.mkdtemp(prefix="lora-lab-ui-"))
    root = _lab_copy(tmp)
    # empty folders of the lab's own: 05 rebuilds the adapter it scores, and says so
    artifacts, run_dir = tmp / "artifacts", tmp / "run"
    artifacts.mkdir()
    run_dir.mkdir()
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Every cell stays in the page (no windowing), so the checks see the whole notebook.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in {"MPLBACKEND", HEADLESS_ENV}}  # a learner's kernel
    env.update(
        # its kernels run without Linux-only facilities, as on macOS and Windows (tests/smoke.py: WITHOUT_LINUX)
        PYTHONPATH=os.pathsep.join([str(NO_LINUX), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        LORA_LAB_ARTIFACTS=str(artifacts),
        LORA_LAB_RUN_DIR=str(run_dir),
    )
    log = (tmp / "lab.log").open("w")
    cmd = [
        *(sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"),
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
    ]
    server = subprocess.Popen(
        cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    seen: list[psutil.Process] = []
    info = {
        "base": base,
        "token": token,
        "root": root,
        "seen": seen,
        "server": server,
        "log": tmp / "lab.log",
        "artifacts": artifacts,
        "run_dir": run_dir,
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not start:\n{info['log'].read_text()[-3000:]}"
                    ) from None
                time.sleep(0.5)
        yield info
    finally:
        seen.extend(
            _tree(server.pid)
        )  # the server and the kernels it started (they run in sessions of their own)
        try:  # a clean shutdown first: the server shuts its kernels down
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=10)
            server.wait(timeout=20)
        except Exception:  # noqa: BLE001 - whatever failed, the kills below still run
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):  # then signals, to the group and to each kernel
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, sig)
            for p in seen:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(sig)
            if not psutil.wait_procs(seen, timeout=10)[1]:
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=5)
        log.close()
        left = _alive(seen)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"processes left after the UI test: {left}"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright launches the system Chromium (no `playwright install`, no download)."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root (CI containers)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True, "args": args}


@pytest.fixture(scope="module")
def chromium(launch_browser, lab: dict) -> Iterator:
    """One Chromium for the module, closed (and checked gone) at its end."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    browser = launch_browser()
    procs = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if p.pid not in before and "chrom" in p.name():
                procs.append(p)
    lab["seen"].extend(procs)
    try:
        yield browser
    finally:
        browser.close()
        psutil.wait_procs(procs, timeout=10)
        left = _alive(procs)
        assert not left, f"Chromium processes left after the UI test: {left}"


@pytest.fixture
def page(chromium, lab: dict) -> Iterator:
    """A fresh page per notebook; the previous notebook's kernel is shut down first (one kernel at a time)."""
    auth = {"Authorization": f"token {lab['token']}"}
    sessions = json.load(
        urllib.request.urlopen(urllib.request.Request(f"{lab['base']}/api/sessions", headers=auth))
    )
    for sess in sessions:
        req = urllib.request.Request(
            f"{lab['base']}/api/sessions/{sess['id']}", headers=auth, method="DELETE"
        )
        urllib.request.urlopen(req, timeout=30)
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


# ---------------------------------------------------------------------------------------------------------------
# Driving JupyterLab
# ---------------------------------------------------------------------------------------------------------------


def open_notebook(page, lab: dict, name: str) -> None:
    page.goto(f"{lab['base']}/lab/tree/notebooks/{name}?reset&token={lab['token']}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=90_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.wait_for_timeout(2_000)  # the kernel connection settles (a Run All sent earlier is dropped)


def run_all(page, timeout_s: float = 240) -> list[str]:
    """Run > Run All Cells from the menu; wait until it has started and no cell is queued or running.

    Returns the progress-bar texts seen while it ran.
    """
    prompts = page.locator(".jp-CodeCell .jp-InputArea .jp-InputPrompt")
    idle = page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    before = prompts.all_inner_texts()
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(f".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('{RUN_ALL}'))").click()
    seen: set[str] = set()
    started = False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen.update(page.locator(".jp-OutputArea .widget-hprogress + .widget-html").all_inner_texts())
        now = prompts.all_inner_texts()
        busy = any("*" in t for t in now)
        started = started or busy or now != before
        if started and not busy and idle.count():
            return sorted(seen)
        time.sleep(0.5)
    shot(page, "run-all-timeout")
    running = [i for i, t in enumerate(prompts.all_inner_texts()) if "*" in t]
    raise AssertionError(
        f"Run All did not finish in {timeout_s:.0f} s (code cells still queued or running: {running}, "
        f"kernel idle: {bool(idle.count())}); see runs/ui/run-all-timeout.png"
    )


def check_clean_run(page, name: str) -> None:
    """No cell shows an error, every code cell ran, and every progress bar ended at its total."""
    errors = [
        t[:400]
        for t in page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        ).all_inner_texts()
        if TRACEBACK.search(t)
    ]
    assert not errors, f"{name}: a cell shows an error:\n" + "\n---\n".join(errors)
    prompts = page.locator(".jp-CodeCell .jp-InputArea .jp-InputPrompt").all_inner_texts()
    unrun = [i for i, t in enumerate(prompts) if not re.search(r"\[\d+\]", t)]
    assert not unrun, (
        f"{name}: {len(unrun)} of {len(prompts)} code cells did not run (first: code cell {unrun[0]})"
    )
    bars = page.locator(".jp-OutputArea .widget-hprogress + .widget-html").all_inner_texts()
    stuck = [b for b in bars if (m := re.search(r"(\d+)/(\d+)", b)) and m.group(1) != m.group(2)]
    assert not stuck, f"{name}: progress bars stuck before their total: {stuck}"


def save_and_check(page, lab: dict, stem: str) -> None:
    """Save the notebook from the page (File > Save Notebook), then give the saved run tests/smoke.py's checks."""
    saved = lab["root"] / "notebooks" / f"{stem}.ipynb"
    before = saved.stat().st_mtime_ns
    page.locator(".lm-MenuBar-item", has_text="File").first.click()
    page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Save Notebook'))").click()
    deadline = time.monotonic() + 60
    while saved.stat().st_mtime_ns == before:
        if time.monotonic() > deadline:
            shot(page, f"{stem}-not-saved")
            raise AssertionError(f"{stem}: File > Save Notebook did not save it in 60 s")
        time.sleep(0.5)
    # jupyter_server saves atomically (a temporary file, then a rename): a new mtime means a whole file
    check_smoke_run(ROOT / "notebooks" / f"{stem}.ipynb", saved, lab["run_dir"], lab["artifacts"])


def widget_of(page, text: str):
    """The output area holding the explorer with a control labelled ``text``."""
    return page.locator(".jp-OutputArea-output .widget-vbox", has=page.get_by_text(text, exact=True)).first


def shot(page_or_locator, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page_or_locator.screenshot(path=str(SHOTS / f"{name}.png"))


# ---------------------------------------------------------------------------------------------------------------
# The notebooks
# ---------------------------------------------------------------------------------------------------------------


def test_00_runs_twice_with_finished_bars(page, lab):
    open_notebook(page, lab, "00_start_here.ipynb")
    texts = run_all(page)
    shot(page, "00-after-run-all")
    check_clean_run(page, "00 (first Run All)")
    bars = page.locator(".jp-OutputArea .widget-hprogress + .widget-html").all_inner_texts()
    assert bars, f"00: no progress bar shown (texts seen while running: {texts})"
    save_and_check(page, lab, "00_start_here")
    run_all(page)  # the same kernel, a second time
    check_clean_run(page, "00 (second Run All)")
    shot(page, "00-after-second-run-all")


def test_02_memory_planner_answers(page, lab):
    from helpers import widgets

    open_notebook(page, lab, "02_choosing_a_model.ipynb")
    run_all(page)
    check_clean_run(page, "02")
    save_and_check(page, lab, "02_choosing_a_model")
    planner = widget_of(page, "LoRA rank")
    planner.scroll_into_view_if_needed()
    shot(planner, "02-planner-default")

    def expected(**changes) -> str:
        values = dict(
            model="Qwen/Qwen2.5-7B-Instruct", method="lora", lora_rank=16, batch_size=4, seq_len=512
        )
        total = widgets.plan_memory(**{**values, **changes})["memory"]["total"]
        return f"total {total / 1e9:,.1f} GB"

    output = planner.locator(".widget-output")
    expect(output).to_contain_text(expected(), timeout=5_000)
    planner.locator(
        ".widget-toggle-button", has_text=re.compile(r"^full$")
    ).click()  # method: full fine-tuning
    expect(output, "the planner did not answer 'method: full'").to_contain_text(expected(method="full"))
    shot(planner, "02-planner-full")
    planner.locator("select").first.select_option("Qwen/Qwen2.5-0.5B-Instruct")  # the model dropdown
    expect(output, "the planner did not answer 'model: Qwen2.5-0.5B'").to_contain_text(
        expected(method="full", model="Qwen/Qwen2.5-0.5B-Instruct")
    )
    shot(planner, "02-planner-full-0.5B")
    run_all(page)  # a second Run All in the same kernel draws the planner afresh, at its defaults
    check_clean_run(page, "02 (second Run All)")
    expect(widget_of(page, "LoRA rank").locator(".widget-output")).to_contain_text(expected())


def test_05_base_vs_tuned_viewer_answers(page, lab):
    from helpers.results import load

    open_notebook(page, lab, "05_evaluation.ipynb")
    run_all(page, timeout_s=420)  # it trains the smoke adapter first (its artifacts folder is empty)
    check_clean_run(page, "05")
    save_and_check(page, lab, "05_evaluation")
    viewer = widget_of(page, "language")
    viewer.scroll_into_view_if_needed()
    shot(viewer, "05-viewer-default")
    # what the notebook recorded from helpers.evaluate's scores: test examples (and exact matches) per language
    by_lang = load(lab["run_dir"])["05_evaluation"]["exact_match_by_lang"]
    n_all = sum(v["tuned"]["n"] for v in by_lang.values())
    wrong = n_all - sum(v["tuned"]["k"] for v in by_lang.values())
    header = viewer.locator(".widget-html p").first
    expect(header).to_contain_text(f"{n_all} examples match")
    lang = "zh" if "zh" in by_lang else sorted(by_lang)[-1]
    viewer.locator(".widget-toggle-button", has_text=re.compile(rf"^{lang}$")).click()
    expect(header, f"the viewer did not answer 'language: {lang}'").to_contain_text(
        f"{by_lang[lang]['tuned']['n']} examples match | language {lang}"
    )
    shot(viewer, f"05-viewer-{lang}")
    viewer.locator(".widget-toggle-button", has_text=re.compile(r"^all$")).first.click()
    viewer.locator(".widget-toggle-button", has_text="tuned wrong").click()
    if wrong:
        expect(header, "the viewer did not answer 'show: tuned wrong'").to_contain_text(
            f"{wrong} examples match"
        )
    else:
        expect(viewer).to_contain_text("No example matches these filters.")
    shot(viewer, "05-viewer-tuned-wrong")
