# The two set-up commands: `make run` (the app, on its embedded emulator) and `make test`.
# Each creates .venv and installs what it needs the first time, and again when pyproject.toml changes.
# A third, for packaging: `make bundle` builds the PyInstaller binary, dist/blink-desktop/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint emulator bundle

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/blink-desktop $(ARGS)

emulator: $(BIN)/.installed
	$(BIN)/blink-desktop emulator $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest $(ARGS)

bundle: $(BIN)/.installed
	$(BIN)/pyinstaller build.spec --noconfirm
