"""The explorers read well without a kernel: a text fallback, not a repr; in a headless run, a static copy."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from helpers import widgets

ROWS = [
    {
        "user": "Ann, 31, Oslo",
        "target": "{}",
        "base": "?",
        "tuned": "{}",
        "lang": "en",
        "base_ok": False,
        "tuned_ok": True,
    },
    {
        "user": "李雷，北京",
        "target": "{}",
        "base": "?",
        "tuned": "?",
        "lang": "zh",
        "base_ok": False,
        "tuned_ok": False,
    },
]
EXPLORERS = {
    "memory planner": lambda: widgets.memory_planner("Qwen/Qwen2.5-0.5B-Instruct"),
    "LoRA explorer": widgets.lora_explorer,
    "base vs tuned viewer": lambda: widgets.base_vs_tuned_viewer(ROWS),
}


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "live"])
@pytest.mark.parametrize("name", EXPLORERS)
def test_explorer_displays_a_readable_fallback(monkeypatch, name: str, headless: bool):
    monkeypatch.setenv("LORA_LAB_HEADLESS", "1" if headless else "0")
    InteractiveShell.instance()  # display() publishes through a shell, as in a kernel
    box = EXPLORERS[name]()
    with capture_output() as cap:
        box._ipython_display_()
    first, rest = cap.outputs[0].data, cap.outputs[1:]
    assert "application/vnd.jupyter.widget-view+json" in first
    assert first["text/plain"].startswith(f"[{name}: interactive"), first["text/plain"]
    static = [o for o in rest if {"image/png", "text/html"} & set(o.data)]
    if headless:
        assert static, f"{name}: no static copy of its default state under the widget"
    else:
        assert not rest, f"{name}: a live session shows the widget alone, got {[list(o.data) for o in rest]}"
