"""ipywidgets explorers for the notebooks (each also works headless: it returns its widget, it never blocks)."""

from __future__ import annotations
