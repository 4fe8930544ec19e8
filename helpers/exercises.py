"""Checks for the notebooks' exercises: ``None`` is "not answered yet", a wrong answer fails with a hint."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def _same(answer: Any, truth: Any, rel_tol: float) -> bool:
    if isinstance(truth, bool) or isinstance(answer, bool):
        return answer is truth or answer == truth and type(answer) is type(truth)
    if isinstance(truth, int | float) and isinstance(answer, int | float):
        return math.isclose(answer, truth, rel_tol=rel_tol, abs_tol=0.0 if rel_tol else 1e-12)
    return answer == truth


def check(
    n: int,
    answer: Any,
    truth: Any = None,
    *,
    hint: str,
    rel_tol: float = 0.0,
    equal: Callable[[Any, Any], bool] | None = None,
) -> None:
    """Check exercise ``n``'s ``answer`` against ``truth``, which the caller computes from the library or the data.

    Args:
        n: the exercise number, as in ``answer_<n>``.
        answer: what the learner filled in; ``None`` means not answered yet.
        truth: the right answer, computed (never typed) by the check cell.
        hint: what to look at when the answer is wrong; it must not give the answer away.
        rel_tol: relative tolerance for numbers (0: exact).
        equal: a custom comparison ``equal(answer, truth) -> bool`` (for functions, sets, tensors).

    It prints its verdict and returns nothing, so a check cell shows one line.

    Raises:
        AssertionError: when the answer is wrong, with the hint.
    """
    if answer is None:
        print(f"Exercise {n}: not answered yet. Fill in answer_{n} above and run this cell again.")
        return
    try:
        ok = bool(equal(answer, truth)) if equal is not None else _same(answer, truth, rel_tol)
    except Exception as exc:  # noqa: BLE001 - a crashing answer is a wrong answer, with the reason
        raise AssertionError(
            f"Exercise {n}: your answer raised {type(exc).__name__}: {exc}. Hint: {hint}"
        ) from exc
    if not ok:
        raise AssertionError(f"Exercise {n}: {answer!r} is not right. Hint: {hint}")
    shown = answer if not callable(answer) else getattr(answer, "__name__", "your function")
    print(f"Exercise {n}: correct ({shown!r}).")
