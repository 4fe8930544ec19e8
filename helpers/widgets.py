"""ipywidgets explorers for the notebooks (each also works headless: it returns its widget, it never blocks)."""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# LoRA budget explorer (notebook 03)
# ---------------------------------------------------------------------------------------------

#: The models the LoRA explorer compares by default: label -> a name helpers.models.architecture knows.
LORA_EXPLORER_MODELS = {
    "SmolLM2-135M (embedded)": "embedded:SmolLM2-135M-Instruct",
    "Qwen2.5-7B": "Qwen/Qwen2.5-7B-Instruct",
}


def lora_budget(
    model: str, r: int, alpha: float, target_modules: str | list[str], *, use_rslora: bool = False
) -> dict[str, float]:
    """The explorer's computation without any widget: LoRA's trainable parameters and their share.

    Args:
        model: a name :func:`helpers.models.architecture` knows.
        r: LoRA rank.
        alpha: ``lora_alpha``.
        target_modules: ``"all-linear"`` or a list of names (see :func:`helpers.lora.lora_parameter_count`).
        use_rslora: scale by ``alpha / sqrt(r)`` instead of ``alpha / r``.

    Returns:
        ``{"trainable", "total", "share_pct", "scaling", "adapter_mb"}``: total counts base plus adapter
        (as peft's ``print_trainable_parameters`` does); the adapter size assumes fp32 weights on disk.
    """
    import math

    from helpers import lora, models

    trainable = lora.lora_parameter_count(models.architecture(model), target_modules, r)
    total = models.count_parameters(model) + trainable
    return {
        "trainable": trainable,
        "total": total,
        "share_pct": 100 * trainable / total,
        "scaling": alpha / math.sqrt(r) if use_rslora else alpha / r,
        "adapter_mb": trainable * 4 / 1e6,
    }


def lora_explorer(models_: dict[str, str] | None = None):
    """An ipywidgets explorer: pick rank, alpha, rsLoRA and target modules; see the trainable
    parameters, their share of the model and the scaling, for each model side by side.

    Args:
        models_: label -> model name (default :data:`LORA_EXPLORER_MODELS`: the embedded model and Qwen2.5-7B).

    Returns:
        The ``ipywidgets.VBox``; display it (it is the last expression of a cell) to use it.
    """
    import html

    import ipywidgets as w

    from helpers.lora import DECODER_LINEARS

    chosen = models_ or LORA_EXPLORER_MODELS
    style = {"description_width": "90px"}
    rank = w.SelectionSlider(
        options=[1, 2, 4, 8, 16, 32, 64, 128, 256], value=8, description="rank r", style=style
    )
    alpha = w.SelectionSlider(
        options=[1, 2, 4, 8, 16, 32, 64, 128, 256], value=16, description="alpha", style=style
    )
    rslora = w.Checkbox(value=False, description="rsLoRA (alpha/sqrt(r))", style=style)
    targets = w.SelectMultiple(
        options=list(DECODER_LINEARS), value=("q_proj", "v_proj"), rows=7, description="targets", style=style
    )
    table = w.HTML()

    def redraw(*_: object) -> None:
        if not targets.value:
            table.value = "<p>Pick at least one target module.</p>"
            return
        rows = []
        for label, name in chosen.items():
            b = lora_budget(name, rank.value, alpha.value, list(targets.value), use_rslora=rslora.value)
            rows.append(
                f"<tr><td>{html.escape(label)}</td><td>{b['trainable']:,}</td><td>{b['total']:,}</td>"
                f"<td>{b['share_pct']:.3f}%</td><td>{b['scaling']:.3g}</td><td>{b['adapter_mb']:,.1f}</td></tr>"
            )
        head = "".join(
            f"<th>{h}</th>" for h in ["model", "trainable", "total", "share", "scaling", "adapter MB (fp32)"]
        )
        table.value = f"<table><tr>{head}</tr>{''.join(rows)}</table>"

    for c in (rank, alpha, rslora, targets):
        c.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([w.VBox([rank, alpha, rslora]), targets]), table])
