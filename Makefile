# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test clean

$(STAMP): pyproject.toml constraints.txt plugins/medsegkit-extras/pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "medsegkit needs Python 3.11, got " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,pretrained,review,hair]'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e plugins/medsegkit-extras
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/medsegkit prepare synthetic-dermoscopy --count 6 --size 256 --out .demo/synthetic-dermoscopy
	$(BIN)/medsegkit cluster .demo/synthetic-dermoscopy --method s3 --size 256 --out .demo/cluster-s3
	$(BIN)/medsegkit evaluate .demo/cluster-s3 --gt .demo/synthetic-dermoscopy --split all --out .demo/evaluation

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q --durations=10 medsegkit tests plugins/medsegkit-extras/tests

clean:
	rm -rf $(VENV) .demo .pytest_cache
