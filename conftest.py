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
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
