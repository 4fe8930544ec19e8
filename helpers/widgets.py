"""ipywidgets explorers for the notebooks (each also works headless: it returns its widget, it never blocks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: What a reader without a kernel (GitHub, nbviewer) reads in place of a widget, instead of ``VBox(children=...``.
WIDGET_TEXT = "[{name}: interactive in a running Jupyter kernel; {where}]"


def _present(box: Any, name: str, snapshot: Callable[[], None]) -> Any:
    """Give ``box`` a readable text fallback and, in a headless run, a static copy of its default state under it.

    A saved notebook stores no widget state, so a reader without a kernel sees only the text fallback; the copy
    (``snapshot()`` displays it) shows them the default figure or table. A live session shows the widget alone.
    """
    from IPython.display import display

    from helpers.env import headless

    def _ipython_display_(**_: Any) -> None:
        bundle = box._repr_mimebundle_()
        where = "its default state is shown below" if headless() else "run the cell to use it"
        bundle["text/plain"] = WIDGET_TEXT.format(name=name, where=where)
        display(bundle, raw=True)
        if headless():
            snapshot()

    box._ipython_display_ = _ipython_display_
    return box


def _caption(settings: dict[str, Any]) -> str:
    shown = " | ".join(f"{k} {v}" for k, v in settings.items())
    return f"Static copy of the default state ({shown}); move the controls in a running kernel to explore."


# ---------------------------------------------------------------------------------------------
# Memory planner (notebook 02)
# ---------------------------------------------------------------------------------------------


def plan_memory(
    model: str,
    method: str = "lora",
    *,
    lora_rank: int = 16,
    batch_size: int = 4,
    seq_len: int = 512,
    dtype: str = "bf16",
    precision: str = "mixed",
    gradient_checkpointing: bool = False,
    optimizer: str = "adamw",
) -> dict[str, Any]:
    """The planner's computation without any widget: a memory estimate and where it fits.

    Args:
        model: a name :func:`helpers.models.architecture` knows.
        method: "full", "lora" or "qlora".
        lora_rank: LoRA rank.
        batch_size: sequences per step.
        seq_len: tokens per sequence.
        dtype: "bf16", "fp16" (a T4 has no bf16) or "fp32".
        precision: "mixed" (fp32 master weights and optimizer states, what ``Trainer(bf16=True)``,
            DeepSpeed and FSDP do) or "pure" (everything in ``dtype``); see
            :data:`helpers.costs.PRECISIONS`.
        gradient_checkpointing: recompute blocks in backward.
        optimizer: a key of :data:`helpers.costs.OPTIMIZER_STATES`.

    Returns:
        ``{"memory": training_memory(...) dict, "fits": {hardware: bool}}``.
    """
    from helpers import costs, models

    memory = costs.training_memory(
        models.architecture(model),
        method,
        batch_size=batch_size,
        seq_len=seq_len,
        lora_rank=lora_rank,
        dtype=dtype,
        precision=precision,
        optimizer=optimizer,
        gradient_checkpointing=gradient_checkpointing,
        n_params=models.count_parameters(model),
    )
    return {"memory": memory, "fits": costs.fits(memory["total"])}


def memory_planner(model: str | None = None, models_list: list[str] | None = None):
    """An ipywidgets explorer: pick model, method, rank, batch, sequence length, dtype, precision, optimizer
    and checkpointing; see the stacked memory bar and which hardware it fits (laptop RAM, T4, A100, 8xH100).

    Args:
        model: the model selected at start (default Qwen2.5-7B-Instruct).
        models_list: the models offered (default every entry of ``helpers.models.ARCHITECTURES``).

    Returns:
        The ``ipywidgets.VBox``; display it (it is the last expression of a cell) to use it.
    """
    import io

    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import Image, Pretty, display

    from helpers import costs, models, plots

    names = models_list or list(models.ARCHITECTURES)
    model = model or "Qwen/Qwen2.5-7B-Instruct"
    style = {"description_width": "110px"}
    controls = {
        "model": w.Dropdown(options=names, value=model, description="model", style=style),
        "method": w.ToggleButtons(
            options=["full", "lora", "qlora"], value="lora", description="method", style=style
        ),
        "lora_rank": w.SelectionSlider(
            options=[4, 8, 16, 32, 64, 128], value=16, description="LoRA rank", style=style
        ),
        "batch_size": w.SelectionSlider(
            options=[1, 2, 4, 8, 16, 32], value=4, description="batch", style=style
        ),
        "seq_len": w.SelectionSlider(
            options=[128, 256, 512, 1024, 2048, 4096, 8192], value=512, description="seq length", style=style
        ),
        "dtype": w.ToggleButtons(
            options=["bf16", "fp16", "fp32"], value="bf16", description="dtype", style=style
        ),
        "precision": w.ToggleButtons(
            options=list(costs.PRECISIONS), value="mixed", description="precision", style=style
        ),
        "optimizer": w.Dropdown(
            options=list(costs.OPTIMIZER_STATES), value="adamw", description="optimizer", style=style
        ),
        "gradient_checkpointing": w.Checkbox(value=False, description="gradient checkpointing", style=style),
    }
    out = w.Output()

    def show(values: dict[str, Any]) -> None:
        result = plan_memory(**values)
        mem = result["memory"]
        label = f"{values['model'].split('/')[-1]} {values['method']}"
        limits = {k: v for k, v in costs.HARDWARE.items() if v <= max(2 * mem["total"], 20e9)}
        fig = plots.memory_breakdown(
            {label: mem}, limits=limits, title="Estimated training memory", unit=1e9, unit_name="GB"
        )
        fig.set_size_inches(7, 2.6)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        display(Image(png.getvalue()))  # a PNG with any matplotlib backend (display(fig) is text under Agg)
        verdict = "   ".join(f"{'✅' if ok else '❌'} {hw}" for hw, ok in result["fits"].items())
        display(
            Pretty(
                f"total {mem['total'] / 1e9:,.1f} GB  (trainable {mem['trainable_params']:,} of "
                f"{mem['params']:,} parameters)\n{verdict}"
            )
        )

    def redraw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            show({k: c.value for k, c in controls.items()})

    for c in controls.values():
        c.observe(redraw, names="value")
    redraw()
    defaults = {k: c.value for k, c in controls.items()}

    def snapshot() -> None:
        display(Pretty(_caption({controls[k].description: v for k, v in defaults.items()})))
        show(defaults)

    return _present(w.VBox([*controls.values(), out]), "memory planner", snapshot)


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
    from IPython.display import HTML, display

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
    default = _caption(
        {
            "rank r": rank.value,
            "alpha": alpha.value,
            "rsLoRA": rslora.value,
            "targets": ", ".join(targets.value),
        }
    )
    default_table = table.value

    def snapshot() -> None:
        display(HTML(f"<p><i>{html.escape(default)}</i></p>{default_table}"))

    return _present(
        w.VBox([w.HBox([w.VBox([rank, alpha, rslora]), targets]), table]), "LoRA explorer", snapshot
    )


# ---------------------------------------------------------------------------------------------
# Base vs tuned viewer (notebook 05)
# ---------------------------------------------------------------------------------------------


def base_vs_tuned_viewer(rows: list[dict[str, Any]]):
    """An ipywidgets viewer: step through test examples and compare the base and tuned answers.

    Args:
        rows: one dict per example with ``user``, ``target``, ``base``, ``tuned`` and optionally
            ``lang``, ``tags``, ``base_ok`` and ``tuned_ok`` (booleans: exact match or not).

    Returns:
        The ``ipywidgets.VBox``; display it (it is the last expression of a cell) to use it. Filters:
        language, and "only where they differ" / "only tuned failures".
    """
    import html

    import ipywidgets as w
    from IPython.display import HTML, display

    if not rows:
        raise ValueError("rows is empty; build them from the test records and both models' answers.")
    langs = sorted({str(r.get("lang", "?")) for r in rows})
    lang = w.ToggleButtons(options=["all", *langs], value="all", description="language")
    show = w.ToggleButtons(options=["all", "base ≠ tuned", "tuned wrong"], value="all", description="show")
    index = w.IntSlider(min=0, max=len(rows) - 1, value=0, description="example", continuous_update=False)
    view = w.HTML()

    def selected() -> list[dict[str, Any]]:
        keep = [r for r in rows if lang.value == "all" or str(r.get("lang", "?")) == lang.value]
        if show.value == "base ≠ tuned":
            keep = [r for r in keep if r["base"] != r["tuned"]]
        elif show.value == "tuned wrong":
            keep = [r for r in keep if not r.get("tuned_ok", False)]
        return keep

    def box(title: str, text: str, ok: bool | None = None) -> str:
        colour = {True: "#e6f4ea", False: "#fce8e6", None: "#f5f5f5"}[ok]
        mark = {True: " ✅", False: " ❌", None: ""}[ok]
        return (
            f"<div style='margin:4px 0'><b>{title}{mark}</b><pre style='background:{colour};padding:4px;"
            f"white-space:pre-wrap;margin:2px 0'>{html.escape(str(text))}</pre></div>"
        )

    def redraw(*_: Any) -> None:
        keep = selected()
        if not keep:
            index.max, index.disabled = 0, True
            view.value = "<p>No example matches these filters.</p>"
            return
        index.disabled = False
        index.max = len(keep) - 1
        r = keep[min(index.value, index.max)]
        tags = ", ".join(r.get("tags") or []) or "none"
        view.value = (
            f"<p>{len(keep)} examples match | language {html.escape(str(r.get('lang', '?')))} | "
            f"tags {html.escape(tags)}</p>"
            + box("prompt", r["user"])
            + box("target", r["target"])
            + box("base", r["base"], r.get("base_ok"))
            + box("tuned", r["tuned"], r.get("tuned_ok"))
        )

    for c in (lang, show, index):
        c.observe(redraw, names="value")
    redraw()
    default = _caption({"language": lang.value, "show": show.value, "example": index.value})
    default_view = view.value

    def snapshot() -> None:
        display(HTML(f"<p><i>{html.escape(default)}</i></p>{default_view}"))

    return _present(w.VBox([lang, show, index, view]), "base vs tuned viewer", snapshot)
