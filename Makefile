# The two commands of the README. Everything else is `zhongshu --help`.
VENV ?= .venv
PYTHON ?= python3

.PHONY: up test bench clean

up: $(VENV)/.installed
	$(VENV)/bin/zhongshu up

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf var/logs var/temporal.db var/zhongshu.db*
