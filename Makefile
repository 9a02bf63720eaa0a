# Two commands do everything: `make dev` runs the product locally, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: dev test lint fuzz bench chromium node npm widget clean deploy destroy

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Debian's Chromium for the browser tests; never a downloaded browser.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's Node.js for the console modules' specs (node --test) and the widget's build.
node:
	@command -v node >/dev/null 2>&1 || { \
		echo "Installing Debian's nodejs for the console's specs and the widget's build..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs >/dev/null; }

# npm, for the widget's build tool: Debian packages it apart from nodejs.
npm: node
	@command -v npm >/dev/null 2>&1 || { \
		echo "Installing Debian's npm for the widget's build..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }

# The widget pages download: web/widget/widget.js and widget.css (git-ignored), minified from the readable
# web/widget/src/ by web/widget/build.mjs with terser (the only npm package, pinned in
# web/widget/package-lock.json). `npm ci` runs only when node_modules is missing or older than the lock;
# the build only when a source is newer than what it built. Same source, same bytes.
WIDGET := web/widget
widget: $(WIDGET)/widget.js $(WIDGET)/widget.css $(WIDGET)/widget-kb.js

$(WIDGET)/node_modules/.package-lock.json: $(WIDGET)/package.json $(WIDGET)/package-lock.json | npm
	cd $(WIDGET) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WIDGET)/widget.js $(WIDGET)/widget.css $(WIDGET)/widget-kb.js &: $(WIDGET)/src/widget.js $(WIDGET)/src/widget.css \
		$(WIDGET)/src/kb.js $(WIDGET)/build.mjs web/console/js/links.js web/console/js/markdown.js \
		$(WIDGET)/node_modules/.package-lock.json | node
	node $(WIDGET)/build.mjs

dev: $(VENV)/.installed widget
	PORT=$(PORT) $(BIN)/python -m infra.local

test: $(VENV)/.installed chromium node widget
	node --test web/console/test/
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Ruff's rules (pyproject.toml), the layers of chalicelib (.importlinter), and the console's specs.
lint: $(VENV)/.installed node
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	node --test web/console/test/

# The long fuzz profile of tests/fuzz (`make test` runs the fast one): at least 10,000 websocket frames and
# 3,000 REST requests against local stacks of their own, fresh randomness each run; figures in bench/results/fuzz.json.
fuzz: $(VENV)/.installed
	PARLEY_FUZZ=long $(BIN)/python -m pytest tests/fuzz $(PYTEST_ARGS)

# Deploy a stage to the AWS account your credentials name (docs/deploy.md): make deploy STAGE=dev.
# Optional, each kept by the stage once given: REGION, EMAIL_FROM, SES_IDENTITY, INBOUND_DOMAIN, TRACING,
# DELETION_PROTECTION; ADMIN_EMAIL (with SITE_KEY) creates the first workspace and invites its admin.
STAGE ?=
DEPLOY_FLAGS = $(if $(REGION),--region "$(REGION)") \
	$(if $(EMAIL_FROM),--email-from "$(EMAIL_FROM)") \
	$(if $(SES_IDENTITY),--ses-identity "$(SES_IDENTITY)") \
	$(if $(INBOUND_DOMAIN),--inbound-domain "$(INBOUND_DOMAIN)") \
	$(if $(TRACING),--tracing "$(TRACING)") \
	$(if $(DELETION_PROTECTION),--deletion-protection "$(DELETION_PROTECTION)") \
	$(if $(ADMIN_EMAIL),--admin-email "$(ADMIN_EMAIL)") \
	$(if $(SITE_KEY),--site-key "$(SITE_KEY)")

deploy: $(VENV)/.installed widget
	@test -n "$(STAGE)" || { echo "Which stage? make deploy STAGE=dev"; exit 2; }
	$(BIN)/python -m infra.deploy deploy --stage "$(STAGE)" $(DEPLOY_FLAGS)

# Deletes the stage and ALL its data; asks for CONFIRM=yes.
destroy: $(VENV)/.installed
	@test -n "$(STAGE)" || { echo "Which stage? make destroy STAGE=dev CONFIRM=yes"; exit 2; }
	$(BIN)/python -m infra.deploy destroy --stage "$(STAGE)" $(if $(REGION),--region "$(REGION)") \
		$(if $(filter yes,$(CONFIRM)),--confirm)

bench: $(VENV)/.installed
	@set -e; for f in bench/[!_]*.py; do echo "== $$f"; $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts $(WIDGET)/node_modules $(WIDGET)/widget.js $(WIDGET)/widget.css
