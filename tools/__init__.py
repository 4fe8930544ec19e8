"""Maintainer tooling: the bootstrap (course.py), the headless runner and renderer (runner.py), and each notebook's
full-run targets (nb_checks/), which `make run` and pytest both import. Not part of the installed package."""
