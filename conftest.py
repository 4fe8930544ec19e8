"""Test-session environment: offline, smoke-sized, and never touching the learner's artifacts or runs."""

import os
import tempfile

# Set at import so the kernels of the notebook runs (papermill, in tests/test_notebooks.py) inherit it too.
_tmp = tempfile.mkdtemp(prefix="lora-lab-test-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["LORA_LAB_SMOKE"] = "1"
# Exercises run with their worked solutions, as in `make run`; tests/test_notebooks.py also tries each one
# unanswered and wrong in the same kernel.
os.environ["LORA_LAB_SOLUTIONS"] = "1"
os.environ.setdefault("LORA_LAB_ARTIFACTS", os.path.join(_tmp, "artifacts"))
os.environ.setdefault("LORA_LAB_RUN_DIR", os.path.join(_tmp, "run"))
# pytest-xdist workers inherit the controller's environment: each gets folders of its own, or one worker's
# notebook 04 would rewrite the adapter that another worker's notebook 06 is reading.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("LORA_LAB_ARTIFACTS", "LORA_LAB_RUN_DIR"):
        os.environ[_name] = os.path.join(os.environ[_name], os.environ["PYTEST_XDIST_WORKER"])
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

# `make test` runs two pytest-xdist workers (2 cores here). Each worker, and every kernel and process it starts,
# gets its share of the cores as torch/OpenMP threads: two workers with all the cores each would oversubscribe them.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
