# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean texts

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/feedbot demo

test: $(BIN)/.installed
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check bot adapters storage tests bench
	$(BIN)/ruff format --check bot adapters storage tests bench
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/telegram_send_cost.py
	$(BIN)/python bench/discord_dms.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/shutdown.py
	$(BIN)/python bench/scale_out.py p1
	$(BIN)/python bench/scale_out.py p1 --uncapped
	$(BIN)/python bench/scale_out.py p1 --engine-only
	$(BIN)/python bench/scale_out.py p4
	$(BIN)/python bench/scale_out.py p5
	$(BIN)/python bench/scale_out.py failover

# Texts: extract the msgids of bot/texts.py, merge them into each language's catalog, compile the .mo
# files (committed: they ship in the wheel). A new text stays English until its msgstr is written.
LOCALES := bot/locale
texts: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k _t:1c,2 -k _tn:1c,2,3 -c Translators: \
		--project feedbot --copyright-holder "feedbot contributors" --no-location -w 100 -o $(LOCALES)/feedbot.pot.new .
	@# Only a changed template is merged into the catalogs: running this twice changes nothing.
	@if diff -q -I '^"POT-Creation-Date' $(LOCALES)/feedbot.pot $(LOCALES)/feedbot.pot.new >/dev/null 2>&1; then \
		rm $(LOCALES)/feedbot.pot.new; echo "texts unchanged"; \
	else \
		mv $(LOCALES)/feedbot.pot.new $(LOCALES)/feedbot.pot; \
		$(BIN)/pybabel update -i $(LOCALES)/feedbot.pot -d $(LOCALES) -D feedbot --no-fuzzy-matching -w 100; \
	fi
	$(BIN)/pybabel compile --statistics -d $(LOCALES) -D feedbot

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
