# Two commands for a fresh machine (see README.md):
#   make lab         install everything (pinned) into .venv and open JupyterLab on course/
#   make instructor  the same for instructors: nbgrader's formgrader on build/ (see docs/INSTRUCTORS.md)
#   make hub         a JupyterHub for a term: instructor + students, nbgrader exchange (docs/HUB.md)
#   make test        install if needed, then lint and run the whole test suite (CI runs this)
# Both labs work as root too, honour JUPYTER_PORT and JUPYTER_TOKEN, and pass LAB_ARGS to
# `jupyter lab` (e.g. `make lab LAB_ARGS=--no-browser`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
LAB_ARGS ?=

.PHONY: lab instructor hub hub-proxy test install sandbox lint build benchmark saelens-env lm-eval-wheel clean-venv

lab: install
	$(BIN)/python -m graders.lab $(LAB_ARGS)

instructor: install
	$(BIN)/python -m graders.lab instructor $(LAB_ARGS)

test: install lint saelens-env lm-eval-wheel hub-proxy
	$(BIN)/python -m pytest -q -ra

install: $(STAMP) sandbox

# A JupyterHub on this machine (graders/hub.py, docs/HUB.md): HUB_PORT, HUB_PASSWORD, HUB_STUDENTS...
# from the environment. Its proxy comes from npm, pinned, into .hub/ (never committed), installed from
# inside .hub/ rather than with --prefix, which would also move npm's global config (and its CA file).
CHP_VERSION := 5.3.0
CHP := .hub/node_modules/.bin/configurable-http-proxy

hub: install hub-proxy
	$(BIN)/python -m graders.hub

hub-proxy: $(CHP)

$(CHP):
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p .hub && { test -f .hub/package.json || echo '{"private": true}' > .hub/package.json; } && \
		(cd .hub && npm install --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)) && touch $@; \
	else \
		echo "WARNING: npm not found: make hub needs node and npm (Debian: apt-get install nodejs npm); tests/test_hub.py skips"; \
	fi

# The grading sandbox needs bubblewrap (graders/isolation.py); `graders doctor` shows what works.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing bubblewrap (the grading sandbox)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
		else \
			echo "WARNING: bubblewrap (bwrap) is not installed: autograding refuses to run without it."; \
			echo "  Debian/Ubuntu: sudo apt-get install bubblewrap   Fedora: sudo dnf install bubblewrap"; \
			echo "  Arch: sudo pacman -S bubblewrap   (then check with: .venv/bin/graders doctor)"; \
		fi; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[torch]"
	$(BIN)/jupyter server extension enable --sys-prefix --py nbgrader >/dev/null 2>&1 || \
		$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.formgrader
	$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader >/dev/null
	rm -f $(VENV)/.installed-*
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

build: install
	$(BIN)/graders build

benchmark: install saelens-env
	$(BIN)/python -m benchmarks.run

# Week 10 compares our SAE with SAELens, which cannot share an environment with TransformerLens 4:
# it gets its own (.venv-saelens); the two exchange only safetensors and JSON.
saelens-env: .venv-saelens/.installed

.venv-saelens/.installed: tools/saelens_compare/make_env.sh
	tools/saelens_compare/make_env.sh .venv-saelens
	touch $@

# Week 12 tests its BBQ scores against lm-evaluation-harness 0.4.13's task code, read from the wheel
# alone (no install; tools/lm_eval_bbq/README.md). Without it the test uses a verbatim copy.
lm-eval-wheel: .lm-eval/lm_eval-0.4.13-py3-none-any.whl

.lm-eval/lm_eval-0.4.13-py3-none-any.whl: tools/lm_eval_bbq/get_wheel.sh
	PYTHON=$(BIN)/python tools/lm_eval_bbq/get_wheel.sh .lm-eval

clean-venv:
	rm -rf $(VENV)
