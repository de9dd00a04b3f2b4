PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
OUT ?= out

.PHONY: run test bench app clean dfe-rules peers compiled

# `make run` installs only what the main job needs; `make test` (and bench, app) add the test tools and the heavy
# extras (Streamlit, Dask, ciw). Each stamp is redone when pyproject.toml changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing what the main job needs into $(VENV) (SimPy, NumPy, SciPy, pandas, matplotlib, ...): about 1 minute and 600 MB the first time"
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing the test tools and the optional extras into $(VENV) (Streamlit, Dask, ciw, pytest, ...): a few minutes and about 1 GB the first time"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	@echo "Running the Cheshire East baseline, the two-homes what-if and their comparison (2 to 3 minutes on 2 cores)"
	$(BIN)/sufficiency run scenarios/cheshire_east/baseline.toml --replications 50 --out $(OUT)/cheshire_east_baseline
	$(BIN)/sufficiency run scenarios/cheshire_east/add_two_homes.toml --replications 50 --out $(OUT)/cheshire_east_add_two_homes
	$(BIN)/sufficiency compare scenarios/cheshire_east/baseline.toml scenarios/cheshire_east/add_two_homes.toml --replications 100 --jobs 2 --out $(OUT)/cheshire_east_two_homes_comparison

# pytest on two workers, whole files each (a module's fixture runs once); coverage includes the CLI subprocesses
# and the runner's workers (pyproject.toml, [tool.coverage.run]).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	COVERAGE_FILE=$(CURDIR)/.coverage OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term --cov-fail-under=95 --durations=25

# Writes its figures to $(OUT)/bench.json too; `python tools/bench_table.py $(OUT)/bench.json` then regenerates the
# performance tables of README.md and docs/performance.md from them.
bench: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/sufficiency bench --json $(OUT)/bench.json

app: $(STAMP)
	$(BIN)/sufficiency app

# The optional compiled core (docs/decisions/0012): Cython, pinned in pyproject.toml's `compiled` extra, compiles
# sim/engine/model.py as it is into build/compiled_core, which sim.engine loads while the source is unchanged
# (SUFFICIENCY_CORE=python turns it off). Skipped with a message where Cython cannot be installed or there is no C
# compiler. Optional: `make test` and `make run` never need it.
compiled: $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[compiled]' || echo "compiled core: Cython could not be installed"
	$(BIN)/python tools/build_compiled_core.py

# The DfE's SSDA903 validation rules in a side environment of their own (they pin pandas 1.5.3; the project needs
# pandas 3): docs/decisions/0008. Optional: `make test` and `make run` never need it.
dfe-rules:
	$(PYTHON) -m venv .venv-dfe-rules
	.venv-dfe-rules/bin/pip install --quiet -r requirements/dfe-rules.txt
	echo '*' > .venv-dfe-rules/.gitignore

# cs-demand-model, the sector's open demand model, in a side environment of its own (it pins pandas 1.5.3), for
# calibration/ssda903/peer_comparison.py: docs/decisions/0008. Optional: `make test` and `make run` never need it.
peers:
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/pip install --quiet -r requirements/peers.txt
	echo '*' > .venv-peers/.gitignore

clean:
	rm -rf $(VENV) out
