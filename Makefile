# The two commands of the README. Everything else is `zhongshu --help`.
#   make up                       the whole embedded stack + a demo flow of orders (Ctrl-C stops it)
#   make up UP_ARGS=--no-demo     … without the demo (or UP_ARGS="--orders 100")
#   make test                     the whole test suite (needs PostgreSQL on 127.0.0.1:5432), a process per core
#   make test PYTEST_ARGS="-n 0 tests/test_x.py"   … one process, one file
# Ports, var dir, API key: ZHONGSHU_* environment variables (see zhongshu/settings.py).
VENV ?= .venv
PYTHON ?= python3
UP_ARGS ?=
PYTEST_ARGS ?=

.PHONY: up test install bench clean

up: $(VENV)/.installed
	$(VENV)/bin/zhongshu up $(UP_ARGS)

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q -n auto --maxprocesses 4 --dist loadfile --durations=15 $(PYTEST_ARGS)

install: $(VENV)/.installed

# The product and, next to it, the development harness (devtools/: `zhongshu up`, demo, bench, fakes),
# both editable. Re-runs when a pyproject.toml changes; the stamp is written only after a complete install.
# A fresh venv shows pip's progress (minutes of downloads); an update of an existing one is quiet.
$(VENV)/.installed: pyproject.toml devtools/pyproject.toml scripts/system-packages.sh
	@bash scripts/system-packages.sh
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Zhongshu needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Try: make $(MAKECMDGOALS) PYTHON=python3.12"; exit 1; }
	@quiet=-q; test -x $(VENV)/bin/python || { \
	  quiet=; echo "==> creating $(VENV) with $$($(PYTHON) --version)"; \
	  $(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV) (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }; }; \
	echo "==> installing Zhongshu and its dependencies into $(VENV) (the first time takes a few minutes)"; \
	start=$$(date +%s); \
	$(VENV)/bin/python -m pip install -q --upgrade pip && \
	$(VENV)/bin/python -m pip install $$quiet -e '.[dev]' -e ./devtools || { echo "pip install failed; fix the error above and run make again"; exit 1; }; \
	echo "==> installed in $$(( $$(date +%s) - start )) s"
	@touch $@

bench: $(VENV)/.installed
	$(VENV)/bin/zhongshu bench routing

clean:
	rm -rf var/logs var/temporal.db var/zhongshu.db*
