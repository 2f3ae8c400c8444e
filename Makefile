# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fuzz worker beat compile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
		print('\n'.join(p['dependencies'] + [r for g in ('compile', 'dev') for r in p['optional-dependencies'][g]]))" \
		> $(VENV)/requirements.txt
	$(BIN)/pip install --quiet -r $(VENV)/requirements.txt
	touch $(STAMP)

# The matching engine compiled by mypyc (payments/matching/compiled.py), rebuilt when its
# sources change. Without a C compiler it stays pure Python: same results, slower ranking.
MATCHING := $(addprefix payments/matching/,types.py subsets.py normalize.py engine.py)
COMPILED := build/mypyc/STAMP
$(COMPILED): $(STAMP) $(MATCHING) payments/matching/compiled.py
	$(BIN)/python -P payments/matching/compiled.py \
		|| echo "make: the matching engine was not compiled; it runs as pure Python" >&2

compile: $(COMPILED)

run: $(STAMP) $(COMPILED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# The suite runs in one process per core (pytest-xdist); TEST_JOBS=0 runs it in this one.
TEST_JOBS ?= auto
test: $(STAMP) $(COMPILED)
	$(BIN)/pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

worker: $(STAMP)
	$(BIN)/celery -A arpilot worker --loglevel=INFO

beat: $(STAMP)
	$(BIN)/celery -A arpilot beat --loglevel=INFO --schedule=var/celerybeat-schedule

fuzz: $(STAMP)
	bash .ci/fuzz

clean:
	rm -rf $(VENV) var staticfiles build
