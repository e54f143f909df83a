# The two commands: `make test` and `make demo`. Both set up what they need first
# (scripts/setup_dev.sh is idempotent and quick once done).
#   make test PYTEST_ARGS="-k server -x"     extra pytest arguments
#   COMFYUI_DIR=/path/to/ComfyUI make test   use another ComfyUI host
#   CKPT=/path/to/sd15.safetensors make demo run the demo on a real checkpoint
SHELL := /bin/bash
PYTHON := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup test demo clean-host

setup:
	bash scripts/setup_dev.sh

test: setup
	$(PYTHON) -m pytest tests -q -ra --durations=10 $(PYTEST_ARGS)

demo: setup
	$(PYTHON) scripts/demo.py

# Removes the extracted ComfyUI, the cached tiny checkpoint, demo outputs and setup stamps
# (not .venv/). The next `make setup` extracts the host again.
clean-host:
	rm -rf .host
