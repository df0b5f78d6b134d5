# Two commands for a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel of torch 2.13.0 lies on the development machines; pinning it here
# keeps pip from pulling a multi-gigabyte CUDA build.
TORCH := torch==2.13.0

.PHONY: demo toy test setup clean

$(BIN)/pixeldrift: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(BIN)/pixeldrift

demo: setup
# --plan: the scene laid out by the world's parser and drawn by the layout ControlNet shipped beside the
# model; from the words alone the model draws this prompt wrongly in all 4 images (README, Generate)
	$(BIN)/pixeldrift generate "three red circles above a blue square" -n 4 --plan --out outputs/demo

# The lab draws its figures with matplotlib, which the base install does not carry.
toy: setup
	$(BIN)/python -c "import matplotlib" 2>/dev/null || $(BIN)/pip install --quiet --disable-pip-version-check 'matplotlib>=3.8'
	$(BIN)/pixeldrift toy --data swissroll --out outputs/toy

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) outputs
