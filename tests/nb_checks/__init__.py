"""One module per notebook, ``nb_<stem>.py``, each with ``check(results: dict) -> None``.

tests/test_notebooks.py runs the notebook in smoke mode and passes what it recorded to ``check``.
"""
