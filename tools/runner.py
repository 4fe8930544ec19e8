"""`make run` / `make render`: execute every notebook headless with papermill and print a summary."""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import importlib
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

from helpers.env import HEADLESS_ENV, ROOT
from helpers.results import RESULTS_MIME, load

NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
#: The title cell's time estimate, rewritten from the measured seconds after every default run.
TIME_LINE = re.compile(r"(Time on a laptop CPU: about )(\d+(?:\.\d+)? (?:min|s))")
#: The kernel's first line in a run: tqdm prints text bars (a stored widget bar shows frozen at 0 %), before any
#: library binds tqdm.auto.
KERNEL_STARTUP = "--IPKernelApp.exec_lines=from helpers.env import use_text_progress; use_text_progress()"
#: A number the Markdown quotes from the run, then its unit and the key it was recorded under:
#: ``0.813 <!-- result: tuned_exact_match -->``. `make render` rewrites the number from the run; tests/test_prose.py
#: checks it against the committed notebook's recorded results.
RESULT = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)(\s*(?:%|s|min|MB|GB|×)?\s*\**\s*<!-- result: ([\w.]+) -->)")
#: A README notebook-table row: ``| 04 | [Training](...) | ... | <time> |``.
README_ROW = re.compile(r"^(\| (\d\d) \|.*\| )([^|]+)( \|)$", re.M)


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The course notebooks in order, optionally filtered by prefixes such as ``04``."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.stem.startswith(o) for o in only)]
    return found


def _flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def tidy_executed(path: Path) -> None:
    """Apply the output policy to an executed notebook: no widget state, no machine paths in its metadata."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.get("metadata", {}).pop("widgets", None)
    pm_meta = data.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):
        if pm_meta.get(key):
            pm_meta[key] = f"notebooks/{Path(pm_meta[key]).name}"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def recorded(data: dict) -> dict:
    """The results a notebook's ``record()`` cell stored with it (``helpers.results.RESULTS_MIME``), or ``{}``."""
    for cell in reversed(data["cells"]):
        for out in cell.get("outputs", []):
            if RESULTS_MIME in out.get("data", {}):
                return out["data"][RESULTS_MIME]
    return {}


def result_value(results: dict, key: str) -> float:
    """``results["a"]["b"]`` for the key ``"a.b"`` (``"a.0"``: a list's first item), as a number.

    Raises:
        KeyError: naming the key, when the run recorded no such result.
    """
    value = results
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"<!-- result: {key} --> names no recorded result")
    return float(value)


def stamp_results(text: str, results: dict) -> str:
    """``text`` with every tagged number rewritten from ``results``, to as many decimals as it had."""

    def new(m: re.Match) -> str:
        old, value = m.group(1), result_value(results, m.group(3))
        digits = len(old.split(".")[1]) if "." in old else 0
        return (f"{value:,.{digits}f}" if "," in old else f"{value:.{digits}f}") + m.group(2)

    return RESULT.sub(new, text)


def stamp_notebook_results(path: Path) -> None:
    """Rewrite the tagged numbers of a notebook's Markdown from what that run recorded."""
    data = json.loads(path.read_text(encoding="utf-8"))
    results = recorded(data)
    for cell in data["cells"]:
        if cell["cell_type"] == "markdown" and RESULT.search(text := "".join(cell["source"])):
            cell["source"] = stamp_results(text, results).splitlines(keepends=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def format_duration(seconds: float) -> str:
    """A title-sized duration: ``"40 s"`` under 90 s (to 5 s), else minutes to the half (``"4.5 min"``)."""
    if seconds < 90:
        return f"{max(5, 5 * round(seconds / 5))} s"
    return f"{round(seconds / 30) / 2:g} min"


def stamp_time(path: Path, seconds: float) -> bool:
    """Write the measured ``seconds`` into the notebook's "Time on a laptop CPU: about ..." line."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        new = TIME_LINE.sub(lambda m: m.group(1) + format_duration(seconds), text, count=1)
        if new != text:
            cell["source"] = new.splitlines(keepends=True)
            path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            return True
        if TIME_LINE.search(text):
            return False
    return False


def stamp_readme(seconds: dict[str, float], readme: Path = README) -> None:
    """Write measured per-notebook times (keyed by the two-digit prefix) into the README's notebook table."""
    text = readme.read_text(encoding="utf-8")

    def row(m: re.Match) -> str:
        if m.group(2) not in seconds:
            return m.group(0)
        return f"{m.group(1)}about {format_duration(seconds[m.group(2)])}{m.group(4)}"

    readme.write_text(README_ROW.sub(row, text), encoding="utf-8")


def stamp_readme_results(results: dict[str, dict], readme: Path = README) -> None:
    """Rewrite the README's tagged numbers, ``0.813 <!-- result: 05.tuned_exact_match -->``, from the results of the
    notebook its key starts with (``results`` keyed by notebook stem, as ``runs/<UTC>/results.json``)."""
    by_prefix = {stem[:2]: r for stem, r in results.items()}
    text = readme.read_text(encoding="utf-8")
    # a number from a notebook that did not run (``--only``) stays as it is
    ran = RESULT.sub(
        lambda m: stamp_results(m.group(0), by_prefix) if m.group(3)[:2] in by_prefix else m.group(0), text
    )
    readme.write_text(ran, encoding="utf-8")


def summary_table(rows: list[dict], results: dict[str, dict]) -> str:
    lines = [f"{'notebook':<28} {'status':<7} {'time':>8}  key results", "-" * 100]
    for row in rows:
        flat = _flatten(results.get(row["notebook"], {}))
        keys = ", ".join(f"{k}={_fmt(v)}" for k, v in list(flat.items())[:6])
        lines.append(f"{row['notebook']:<28} {row['status']:<7} {row['seconds']:>7.0f}s  {keys}")
    return "\n".join(lines)


def _failing_check(exc: BaseException) -> str:
    """The check's statement that raised ``exc`` (a whole ``assert`` without its message), and where it is."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).parent.name == "nb_checks"
    ]
    if not frames:
        return "(outside tools/nb_checks)"
    frame, where = frames[-1], f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"
    for node in ast.walk(ast.parse(Path(frame.filename).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assert) and node.lineno <= frame.lineno <= (node.end_lineno or node.lineno):
            return f"assert {ast.unparse(node.test)} ({where})"
    return f"{frame.line} ({where})"


def check_results(results: dict[str, dict], names: list[str]) -> list[str]:
    """Run ``tools/nb_checks/nb_<name>.py`` on what each named notebook recorded; return one line per failure.

    A line names the notebook, the failing check (which names the figure) and the assertion's message (the value),
    e.g. ``04_training: assert results['resume_max_diff'] < 1e-05 (nb_04_training.py:19) -> 0.5``.
    A notebook that recorded nothing, or has no checks module, is a failure too.
    """
    if str(ROOT) not in sys.path:  # tools/ is a package at the repository root
        sys.path.insert(0, str(ROOT))
    failures = []
    for name in names:
        recorded = {k: v for k, v in results.get(name, {}).items() if k != "_run"}
        if not recorded:
            failures.append(f"{name}: recorded no results (its last cell must call helpers.results.record())")
            continue
        module = f"tools.nb_checks.nb_{name}"
        try:
            checker = importlib.import_module(module)
        except ImportError as exc:
            failures.append(f"{name}: cannot import its checks, {module}: {exc}")
            continue
        try:
            checker.check(recorded)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, with its notebook
            what = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            failures.append(f"{name}: {_failing_check(exc)} -> {what or '(no message)'}")
    return failures


def report_checks(results: dict[str, dict], names: list[str]) -> int:
    """Print the outcome of :func:`check_results` (failures loudly, on stderr); return the number of failures."""
    failures = check_results(results, names)
    if failures:
        print(
            f"\nCHECKS FAILED: {len(failures)} of {len(names)} notebooks miss a target in tools/nb_checks:",
            file=sys.stderr,
        )
        for line in failures:
            print(f"  CHECK FAILED {line}", file=sys.stderr)
    else:
        print(f"\nChecks passed: tools/nb_checks on what {len(names)} notebook(s) recorded.")
    return len(failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--in-place", action="store_true", help="overwrite notebooks/ with the executed copies (make render)"
    )
    parser.add_argument("--smoke", action="store_true", help="pass SMOKE=True to every notebook")
    parser.add_argument("--only", nargs="*", help="notebook prefixes to run, e.g. 00 04")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument(
        "--check",
        metavar="RESULTS_JSON",
        type=Path,
        help="only run tools/nb_checks on a finished run's results.json",
    )
    args = parser.parse_args(argv)
    if args.check:
        results = json.loads(args.check.read_text(encoding="utf-8"))
        return 1 if report_checks(results, [p.stem for p in notebooks(args.only) if p.stem in results]) else 0

    import papermill as pm

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = ROOT / "runs" / (f"render-{stamp}" if args.in_place else stamp)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The kernels inherit this; helpers.results.record() writes there.
    os.environ["LORA_LAB_RUN_DIR"] = str(out_dir)
    # Committed outputs show every exercise as a learner meets it, unanswered; make test solves them (tests/smoke.py)
    os.environ["LORA_LAB_SOLUTIONS"] = "0"
    # Outputs stored for readers without a kernel: text progress bars, static copies under the explorers.
    os.environ[HEADLESS_ENV] = "1"
    params = {"SMOKE": True} if args.smoke else {}
    todo = notebooks(args.only)
    rows = []
    for i, nb in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {nb.name} ...", flush=True)
        target = nb if args.in_place else out_dir / nb.name
        start = time.perf_counter()
        status = "ok"
        try:
            pm.execute_notebook(
                str(nb),
                str(target),
                parameters=params,
                cwd=str(NOTEBOOKS),
                kernel_name="python3",
                progress_bar=True,
                execution_timeout=args.timeout,
                # import helpers first, so that (headless) tqdm prints text before any library binds tqdm.auto
                extra_arguments=[KERNEL_STARTUP],
                # one stream output per cell and name, each text bar reduced to its last state (\r)
                coalesce_streams=True,
                # keep nbclient's default store_widget_state=True: with False, its Output-widget emulation
                # raises KeyError(comm_id) now and then (nbclient 0.11); tidy_executed drops the state below
            )
        except Exception as exc:  # noqa: BLE001 - keep going, report at the end
            status = "FAILED"
            print(f"    {nb.name} failed: {type(exc).__name__}: {str(exc)[:2000]}", file=sys.stderr)
        seconds = time.perf_counter() - start
        if target.is_file():
            tidy_executed(target)
            if args.in_place and status == "ok" and not args.smoke:
                stamp_time(target, seconds)
                stamp_notebook_results(target)
        rows.append({"notebook": nb.stem, "status": status, "seconds": seconds})
        print(f"    {status} in {seconds:.0f} s", flush=True)

    results = load(out_dir)
    if args.in_place and not args.smoke:
        stamp_readme({r["notebook"][:2]: r["seconds"] for r in rows if r["status"] == "ok"})
        if all(r["status"] == "ok" for r in rows):
            for readme in (README, README.with_name("README.zh-CN.md")):
                stamp_readme_results(results, readme)
    for row in rows:
        results.setdefault(row["notebook"], {})["_run"] = {
            "status": row["status"],
            "seconds": round(row["seconds"], 1),
        }
    (out_dir / "results.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    latest = ROOT / "runs" / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(out_dir.name)
    print()
    print(summary_table(rows, results))
    print(f"\nExecuted notebooks and results.json in runs/{out_dir.name}/ (runs/latest points there)")
    failed = [r["notebook"] for r in rows if r["status"] != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    # the full-run (or, with --smoke, the smoke) targets of every notebook that ran to the end
    missed = report_checks(results, [r["notebook"] for r in rows if r["status"] == "ok"])
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
