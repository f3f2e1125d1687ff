# The two entry points of the README.  Both create .venv on first use (tools/setup_env.sh).
# make demo DEMO_ARGS=--force pretrains and converts a finished demo again.
PY := .venv/bin/python
# passive OpenMP waiting: spinning threads slow torch 10-25x on 2 busy cores
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test venv lint

venv:
	@bash tools/setup_env.sh

demo: venv
	@$(PY) tools/demo.py $(DEMO_ARGS)

# two worker processes (pytest-xdist), each test file whole in one of them, so that its module
# fixtures are built once; make test TEST_WORKERS=0 runs the suite in one process
TEST_WORKERS ?= 2

test: venv
	@$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

lint: venv
	@$(PY) -m flake8 --version >/dev/null 2>&1 || $(PY) -m pip install -q "$$(grep -E '^flake8==' requirements/pins.txt | cut -d' ' -f1)"
	@$(PY) -m flake8 mmsoco data_prep tools tests
