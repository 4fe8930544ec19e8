"""Small matplotlib figures for the notebooks (each returns its Figure; nothing is shown implicitly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Default figure size and resolution, small enough to keep committed notebooks light.
FIGSIZE = (7, 3.5)
DPI = 90

#: Colours of the memory components, in stacking order.
MEMORY_COLORS = {
    "weights": "#4C72B0",
    "gradients": "#DD8452",
    "optimizer": "#55A868",
    "activations": "#C44E52",
    "overhead": "#8172B3",
}


def _figure(ax=None):
    """``(fig, ax)``: a new course-sized figure, or the figure that owns ``ax``."""
    import matplotlib.pyplot as plt

    if ax is None:
        return plt.subplots(figsize=FIGSIZE, dpi=DPI)
    return ax.figure, ax


def memory_breakdown(
    breakdowns: Mapping[str, Mapping[str, float]],
    *,
    limits: Mapping[str, float] | None = None,
    title: str = "Training memory",
    unit: float = 2**30,
    unit_name: str = "GiB",
    ax=None,
):
    """Stacked horizontal bars of training memory, one bar per scenario, with hardware limits as lines.

    Args:
        breakdowns: ``{label: {"weights": bytes, "gradients": bytes, ...}}``, as returned by
            :func:`helpers.costs.training_memory` (keys not in :data:`MEMORY_COLORS`, such as
            ``"total"``, are ignored).
        limits: optional ``{hardware label: bytes}``, drawn as vertical dashed lines.
        title: the axes title.
        unit: bytes per displayed unit (default GiB).
        unit_name: the axis label of that unit.
        ax: an existing matplotlib Axes to draw into; a new figure is made when ``None``.

    Returns:
        The matplotlib Figure.
    """
    fig, ax = _figure(ax)
    labels = list(breakdowns)
    left = [0.0] * len(labels)
    for part, color in MEMORY_COLORS.items():
        values = [breakdowns[k].get(part, 0) / unit for k in labels]
        if not any(values):
            continue
        ax.barh(labels, values, left=left, color=color, label=part)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:,.1f}", va="center", fontsize=8)
    if limits:
        styles = ["--", ":", "-.", (0, (5, 1))]
        for j, (name, limit) in enumerate(limits.items()):
            ax.axvline(limit / unit, color="0.3", linestyle=styles[j % len(styles)], linewidth=1, label=name)
    ax.set_xlabel(unit_name)
    ax.set_title(title)
    ax.invert_yaxis()  # first scenario on top
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def bar_log(labels: Sequence[str], values: Sequence[float], *, xlabel: str, title: str = "", ax=None):
    """Horizontal bars on a log axis, each annotated with its value (for quantities spanning decades).

    Args:
        labels: one label per bar.
        values: positive values, same length as ``labels``.
        xlabel: the x-axis label (say the unit).
        title: the axes title.
        ax: an existing Axes, or ``None`` for a new figure.

    Returns:
        The matplotlib Figure.
    """
    if len(labels) != len(values):
        raise ValueError(f"labels ({len(labels)}) and values ({len(values)}) must have the same length")
    fig, ax = _figure(ax)
    ax.barh(list(labels), list(values), color="#4C72B0")
    ax.set_xscale("log")
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.3g}", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def loss_curves(log_history: Sequence[Mapping[str, float]], *, title: str = "Loss", ax=None):
    """Training and validation loss against the optimizer step, from a Trainer's ``state.log_history``.

    Args:
        log_history: dicts with ``"step"`` and ``"loss"`` (training logs) or ``"eval_loss"`` (evaluations).
        title: the axes title.
        ax: an existing Axes, or ``None`` for a new figure.

    Returns:
        The matplotlib Figure.
    """
    fig, ax = _figure(ax)
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    val = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    if train:
        ax.plot(*zip(*train, strict=True), color="#4C72B0", marker=".", label="train")
    if val:
        ax.plot(*zip(*val, strict=True), color="#DD8452", marker="o", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.set_title(title)
    if train or val:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def live_loss_plot(*, title: str = "Loss (live)"):
    """A ``transformers.TrainerCallback`` that redraws :func:`loss_curves` in the notebook at every log.

    Pass it in ``Trainer(callbacks=[...])``. In Jupyter the figure updates in place; elsewhere (scripts,
    tests) it only collects the history. After training, ``callback.figure`` holds the last figure.

    Returns:
        The callback instance.
    """
    from transformers import TrainerCallback

    class LiveLossPlot(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict] = []
            self.figure = None
            self._handle = None

        def _draw(self) -> None:
            import matplotlib.pyplot as plt

            if self.figure is not None:
                plt.close(self.figure)
            self.figure = loss_curves(self.history, title=title)
            plt.close(self.figure)  # we display it ourselves; keep the inline backend from showing a copy
            try:
                from IPython import get_ipython
                from IPython.display import display
            except ImportError:
                return
            if get_ipython() is None:
                return
            if self._handle is None:
                self._handle = display(self.figure, display_id=True)
            else:
                self._handle.update(self.figure)

        def on_train_begin(self, args, state, control, **kwargs):
            self.history = list(state.log_history)  # a resumed run starts with its earlier logs
            self._handle = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and ("loss" in logs or "eval_loss" in logs):
                self.history.append({"step": state.global_step, **logs})
                self._draw()

    return LiveLossPlot()


def nf4_histogram(normalised: Sequence[float], levels: Sequence[float], *, title: str = "", ax=None):
    """Histogram of block-normalised weights (each divided by its block's absmax) with NF4's 16 levels on it.

    Args:
        normalised: weights in [-1, 1], e.g. ``helpers.quant.block_normalised(W)``.
        levels: the NF4 code values (``helpers.quant.nf4_levels()``), drawn as vertical lines.
        title: the axes title.
        ax: an existing Axes, or ``None`` for a new figure.

    Returns:
        The matplotlib Figure (small: 6.5 x 2.4 inches at the course's DPI).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 2.4), dpi=DPI)
    else:
        fig = ax.figure
    ax.hist(np.asarray(normalised, dtype=float), bins=120, range=(-1, 1), color="#4C72B0", alpha=0.8)
    for i, level in enumerate(levels):
        ax.axvline(
            float(level), color="#C44E52", linewidth=0.8, label="the 16 NF4 levels" if i == 0 else None
        )
    ax.set_xlabel("weight / absmax of its block of 64")
    ax.set_ylabel("weights")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
