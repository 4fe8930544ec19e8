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


def record(notebook: str, results: dict[str, Any]) -> None:
    """Write ``results`` to ``<run_dir>/results/<notebook>.json`` and print them.

    Args:
        notebook: the notebook's stem, e.g. ``"04_training"``.
        results: flat or nested JSON-serializable values (numpy and torch scalars are converted).

    Nothing is returned, so a notebook's last cell shows no machine-specific path.
    """
    out = run_dir() / "results" / f"{notebook}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(results), indent=2, ensure_ascii=False, sort_keys=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(f"Recorded results for {notebook}:\n{text}")


def load(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """All recorded results in ``folder`` (default :func:`run_dir`), keyed by notebook."""
    folder = Path(folder or run_dir()) / "results"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}
