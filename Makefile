# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DATABASE_URL ?= sqlite+aiosqlite:///./onestop.db

.PHONY: run test setup catalogs fonts browser migrate demo lint typecheck fmt clean bench

run: setup migrate demo
	$(BIN)/onestop run

test: setup fonts browser
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(STAMP) catalogs

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

catalogs: $(STAMP)
	$(BIN)/onestop compile-catalogs

migrate: setup
	$(BIN)/onestop migrate

demo: migrate
	$(BIN)/onestop demo-data

# The written notices (PDF) need a CJK font; Debian's WenQuanYi Micro Hei is used when present.
fonts:
	@fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || (command -v apt-get >/dev/null && \
	  (apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
	   apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1)) || echo "note: no CJK font; PDF tests will skip")

# Browser tests drive Debian's chromium (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
	   apt-get install -y -q chromium >/dev/null 2>&1)) || echo "note: no chromium; browser tests will skip")

lint:
	$(BIN)/ruff check .

# Static types (pyproject.toml [tool.mypy]): strict on core, db and knowledge; defaults on bot, api, onestop.
typecheck: setup
	$(BIN)/mypy

fmt:
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache onestop.db onestop.db-wal onestop.db-shm
