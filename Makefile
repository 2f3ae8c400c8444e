# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fuzz worker beat clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
		print('\n'.join(p['dependencies'] + p['optional-dependencies']['dev']))" > $(VENV)/requirements.txt
	$(BIN)/pip install --quiet -r $(VENV)/requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# The suite runs in one process per core (pytest-xdist); TEST_JOBS=0 runs it in this one.
TEST_JOBS ?= auto
test: $(STAMP)
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
	rm -rf $(VENV) var staticfiles
