"""Find a notebook's exercises (the cells tagged exercise / solution / check) and probe them in a live kernel.

The probe is one code cell that tests/smoke.py appends to a copy of the notebook before its smoke run.
In that kernel it runs every exercise three ways, as a learner would meet it:
unanswered (the check must say "not answered yet" and not raise), with each wrong answer from the exercise cell's
``metadata.lora_lab.wrong`` (the check must raise AssertionError), and solved (``SOLUTIONS = True``, then the
exercise, solution and check cells: the check must print "correct"). It writes what happened to
``$LORA_LAB_RUN_DIR/exercises.json``.
"""

from __future__ import annotations

import json
import re
from typing import Any

ANSWER = re.compile(r"^answer_(\d+) = None(\s*#.*)?$")


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def exercises(nb: dict) -> dict[int, dict[str, Any]]:
    """``{n: {"exercise", "solution", "check": source, "wrong": [...], "index": {...}}}`` for a notebook's JSON.

    Raises:
        ValueError: when an exercise breaks the pattern (README, "Notebook output policy"), naming the cell.
    """
    found: dict[int, dict[str, Any]] = {}
    current: int | None = None
    for i, cell in enumerate(nb["cells"]):
        tags, src = _tags(cell), _src(cell).strip()
        if "exercise" in tags:
            m = ANSWER.match(src)
            if not m or "\n" in src:
                raise ValueError(
                    f"cell {i}: an exercise cell holds exactly `answer_N = None  # ...`, got {src!r}"
                )
            current = int(m.group(1))
            wrong = cell.get("metadata", {}).get("lora_lab", {}).get("wrong", [])
            if not wrong:
                raise ValueError(
                    f"cell {i}: exercise {current} has no metadata.lora_lab.wrong answers to test"
                )
            found[current] = {"exercise": src, "wrong": list(wrong), "index": {"exercise": i}}
        elif "solution" in tags or "check" in tags:
            kind = "solution" if "solution" in tags else "check"
            if current is None:
                raise ValueError(f"cell {i}: a {kind} cell before any exercise cell")
            if kind in found[current]:
                raise ValueError(f"cell {i}: exercise {current} has a second {kind} cell")
            if not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
                raise ValueError(f"cell {i}: the {kind} cell of exercise {current} must be collapsed")
            found[current][kind] = src
            found[current]["index"][kind] = i
    for n, ex in found.items():
        for kind in ("solution", "check"):
            if kind not in ex:
                raise ValueError(f"exercise {n} has no {kind} cell")
        if f"if SOLUTIONS and answer_{n} is None:" not in ex["solution"]:
            raise ValueError(
                f"exercise {n}: the solution must be guarded by `if SOLUTIONS and answer_{n} is None:`"
            )
        if not re.search(rf"\bcheck\(\s*{n}\s*,\s*answer_{n}\b", ex["check"]):
            raise ValueError(f"exercise {n}: the check cell must call check({n}, answer_{n}, ...)")
    return found


PROBE = """# lora-lab exercise probe: appended by tests/test_notebooks.py to a copy of the notebook; not course content
def _lora_lab_probe(spec):
    import contextlib, io, json, os
    ip = get_ipython()
    ns = ip.user_ns

    def run(src):
        out = io.StringIO()
        err = None
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(ip.transform_cell(src), "<exercise>", "exec"), ns)
            except Exception as exc:  # noqa: BLE001
                err = f"{type(exc).__name__}: {exc}"[:300]
        return {"error": err, "stdout": out.getvalue()[-500:]}

    solutions = ns.get("SOLUTIONS")
    report = {}
    for n, ex in spec.items():
        r = {"unanswered": [run(ex["exercise"]), run(ex["check"])], "wrong": []}
        for expr in ex["wrong"]:
            set_wrong = run(f"answer_{n} = {expr}")
            r["wrong"].append({"expr": expr, "set": set_wrong, "check": run(ex["check"])})
        ns["SOLUTIONS"] = True
        r["solved"] = [run(ex["exercise"]), run(ex["solution"]), run(ex["check"])]
        ns["SOLUTIONS"] = solutions
        report[n] = r
    with open(os.path.join(os.environ["LORA_LAB_RUN_DIR"], "exercises.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print("probed exercises:", sorted(report))


_lora_lab_probe(json.loads(%s))
"""


def probe_cell(nb: dict) -> dict:
    """The code cell that probes every exercise of ``nb`` (see the module docstring)."""
    spec = {
        n: {k: ex[k] for k in ("exercise", "solution", "check", "wrong")} for n, ex in exercises(nb).items()
    }
    source = "import json\n" + PROBE % repr(json.dumps(spec, ensure_ascii=False))
    return {
        "cell_type": "code",
        "metadata": {"tags": ["lora-lab-probe"]},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def problems(report: dict) -> list[str]:
    """What the probe's report shows broken: one line per exercise and way."""
    bad = []
    for n, r in report.items():
        ex_cell, check_cell = r["unanswered"]
        if ex_cell["error"] or check_cell["error"]:
            bad.append(f"exercise {n} unanswered: {ex_cell['error'] or check_cell['error']}")
        elif "not answered yet" not in check_cell["stdout"]:
            bad.append(
                f"exercise {n} unanswered: the check did not say 'not answered yet': {check_cell['stdout']!r}"
            )
        for w in r["wrong"]:
            if w["set"]["error"]:
                bad.append(f"exercise {n} wrong answer {w['expr']!r} could not be set: {w['set']['error']}")
            elif not (w["check"]["error"] or "").startswith("AssertionError"):
                bad.append(f"exercise {n} wrong answer {w['expr']!r} passed its check: {w['check']}")
        errors = [c["error"] for c in r["solved"] if c["error"]]
        if errors:
            bad.append(f"exercise {n} solved: {errors[0]}")
        elif "correct" not in r["solved"][2]["stdout"]:
            bad.append(
                f"exercise {n} solved: the check did not print 'correct': {r['solved'][2]['stdout']!r}"
            )
    return bad
