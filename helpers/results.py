"""Record a notebook's key results as JSON, for the tests and for `make run`'s summary."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from helpers.env import home


def run_dir() -> Path:
    """Where results go: ``$LORA_LAB_RUN_DIR`` (set by `make run` and the tests) or ``runs/interactive`` under
    :func:`helpers.env.home`."""
    return Path(os.environ.get("LORA_LAB_RUN_DIR", home() / "runs" / "interactive")).expanduser()


def _plain(value: Any) -> Any:
    """Convert numpy/torch scalars and paths into JSON-friendly values; refuse NaN silently turning into null."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Refusing to record a non-finite number ({value}); something upstream diverged.")
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


#: The MIME type under which :func:`record` stores the results in the notebook too (no viewer renders it: a reader
#: sees the one text line; `tests/test_prose.py` reads the numbers the Markdown quotes from it).
RESULTS_MIME = "application/vnd.lora-lab.results+json"


def record(notebook: str, results: dict[str, Any]) -> None:
    """Write ``results`` to ``<run_dir>/results/<notebook>.json`` and say so in one line.

    Args:
        notebook: the notebook's stem, e.g. ``"04_training"``.
        results: flat or nested JSON-serializable values (numpy and torch scalars are converted).

    In a notebook the cell shows one line; the values travel with it under :data:`RESULTS_MIME`. Nothing is
    returned, and no machine-specific path is shown.
    """
    plain = _plain(results)
    out = run_dir() / "results" / f"{notebook}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plain, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    line = f"Recorded {len(plain)} results for {notebook}."
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": line, RESULTS_MIME: plain}, raw=True)
    else:
        print(line)


def load(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """All recorded results in ``folder`` (default :func:`run_dir`), keyed by notebook."""
    folder = Path(folder or run_dir()) / "results"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}
