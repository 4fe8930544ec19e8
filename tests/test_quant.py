"""helpers.quant: the bitsandbytes CPU guard (with bitsandbytes hidden), NF4 inspection, and the skip of notebook 08 (appendix A: QLoRA live)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stdout

import pytest
import torch

from helpers import quant
from helpers.env import ROOT

NOTEBOOK = ROOT / "notebooks" / "08_qlora_on_a_cpu.ipynb"


@pytest.fixture
def no_bitsandbytes(monkeypatch):
    """Make ``import bitsandbytes`` fail, as on a machine without it (None in sys.modules raises ImportError)."""
    for name in [m for m in sys.modules if m == "bitsandbytes" or m.startswith("bitsandbytes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)


def test_guard_says_what_is_missing_without_bitsandbytes(no_bitsandbytes):
    ok, reason = quant.bnb_cpu_available()
    assert ok is False
    assert "bitsandbytes" in reason and "pip install" in reason and "\n" not in reason, reason


def test_guard_rejects_a_version_without_the_cpu_backend(monkeypatch):
    class Old:
        __version__ = "0.44.1"

    monkeypatch.setitem(sys.modules, "bitsandbytes", Old())
    ok, reason = quant.bnb_cpu_available()
    assert ok is False and "0.44.1" in reason and quant.MIN_BNB_VERSION in reason, reason


def _section_cells(tag: str = "qlora-live") -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])
    ]


def test_live_part_skips_with_one_line_without_bitsandbytes(no_bitsandbytes):
    cells = _section_cells()
    guard = _section_cells("qlora-guard")
    assert len(guard) == 1 and guard[0] == cells[0], "the section's first code cell is its guard"
    # what the section reads from earlier cells; every use of bitsandbytes is behind the guard
    lines, namespace = _run_section(cells, live=True)
    assert len(lines) == 1 and lines[0].startswith("The live part skipped: bitsandbytes"), lines
    assert namespace["QLORA_SKIPPED"] is True and namespace["QLORA_OK"] is False


def _run_section(cells: list[str], *, live: bool) -> tuple[list[str], dict]:
    """Execute the live part's cells in one namespace holding what they read from earlier cells; return printed lines."""
    namespace = {
        "SMOKE": True,
        "QLORA_STEPS": 8,
        "QLORA_LIVE": live,
        "MODEL": "embedded:SmolLM2-135M-Instruct",
        "SEED": 0,
    }
    out = io.StringIO()
    with redirect_stdout(out):
        for source in cells:
            exec(compile(source, "<08 live part>", "exec"), namespace)
    return out.getvalue().splitlines(), namespace


def test_live_part_skips_with_one_line_when_switched_off():
    """QLORA_LIVE = False (the parameters cell, or LORA_LAB_QLORA_LIVE=0): one line, no work."""
    lines, namespace = _run_section(_section_cells(), live=False)
    assert lines == ["The live part skipped: QLORA_LIVE is False in the parameters cell"], lines
    assert namespace["QLORA_SKIPPED"] is True
    params = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    source = next(
        "".join(c["source"]) for c in params if "parameters" in c.get("metadata", {}).get("tags", [])
    )
    assert 'QLORA_LIVE = bool(int(os.environ.get("LORA_LAB_QLORA_LIVE", "1")))' in source


BNB_OK, BNB_REASON = quant.bnb_cpu_available()
needs_bnb = pytest.mark.skipif(not BNB_OK, reason=BNB_REASON)


@needs_bnb
def test_guard_passes_where_the_cpu_backend_runs():
    ok, reason = quant.bnb_cpu_available()
    assert ok and reason.startswith("bitsandbytes 0."), reason


@needs_bnb
def test_nf4_levels_and_block_normalisation():
    levels = quant.nf4_levels()
    assert levels.shape == (16,) and levels.min() == -1 and levels.max() == 1 and (levels == 0).any()
    assert torch.all(levels[1:] > levels[:-1])
    w = torch.randn(8, 128)
    normalised = quant.block_normalised(w)
    assert normalised.abs().max() == 1 and normalised.shape == (8 * 128,)
    with pytest.raises(ValueError, match="blocks of 64"):
        quant.block_normalised(torch.randn(3, 7))


@needs_bnb
def test_nf4_tiny_model_footprint_and_error(tiny_qwen2_dir):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    folder = tiny_qwen2_dir
    fp32 = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    config = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    nf4 = AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=config, dtype=torch.float32, device_map={"": "cpu"}
    )
    assert quant.footprint_mb(nf4) < quant.footprint_mb(fp32)
    assert quant.footprint_mb(nf4) > nf4.get_memory_footprint() / 1e6, "the NF4 scales are counted"
    name = "model.layers.0.mlp.down_proj"
    w = fp32.get_submodule(name).weight
    error = quant.relative_error(w, quant.dequantize(nf4.get_submodule(name).weight))
    assert 0.01 < error < 0.2, error
    assert quant.relative_error(w, w) == 0


def test_logit_gap():
    a = [torch.tensor([[0.0, 1.0], [2.0, 0.0]])]
    b = [torch.tensor([[0.0, 1.5], [0.0, 1.0]])]
    gap = quant.logit_gap(a, b)
    assert gap == {"max_abs": 2.0, "mean_abs": 0.875, "top1_agree": 0.5}
