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
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    else:
        fig = ax.figure
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
    import matplotlib.pyplot as plt

    if len(labels) != len(values):
        raise ValueError(f"labels ({len(labels)}) and values ({len(values)}) must have the same length")
    if ax is None:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    else:
        fig = ax.figure
    ax.barh(list(labels), list(values), color="#4C72B0")
    ax.set_xscale("log")
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.3g}", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
