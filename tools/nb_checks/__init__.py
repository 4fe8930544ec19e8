"""One module per notebook, ``nb_<stem>.py``, each with ``check(results: dict) -> None``.

tests/test_notebooks.py runs the notebook in smoke mode and passes what it recorded to ``check``; `make run` (and
`make render`) pass each full run's results to it (``tools.runner.check_results``), so the ``not results["smoke"]``
branches are the full-run targets, and tests/test_runner.py checks them on the committed outputs.
"""
