# The README's two commands are `make demo` and `make test`; everything else is optional.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck bench-loadgen bench-serving bench-fidelity bench-repeatability bench-host bench-ray bench-genai llamacpp bench-llamacpp mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	rm -f $(VENV)/.installed-*; touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/infrec demo

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench-loadgen: $(STAMP)
	$(BIN)/python bench/loadgen.py

bench-serving: $(STAMP)
	$(BIN)/python bench/serving.py

bench-fidelity: $(STAMP)
	$(BIN)/python bench/fidelity.py

bench-repeatability: $(STAMP)
	$(BIN)/python bench/repeatability.py

bench-host: $(STAMP)
	$(BIN)/python bench/host_noise.py

bench-ray: $(STAMP)
	$(BIN)/python bench/ray_executor.py

bench-genai: $(STAMP)
	$(BIN)/python bench/genai.py

# The infrec/llamacpp engine in .infrec/llamacpp-venv (compiles llama-cpp-python once: ~5 min on 2 cores).
llamacpp:
	bash scripts/llamacpp-engine.sh

bench-llamacpp: $(STAMP)
	$(BIN)/python bench/llamacpp.py

# Mutation check of the rules in core/ (scripts/mutation.sh; mutmut, judged by tests/unit, one worker at
# nice 19, about a quarter of an hour on 2 cores; not part of `make test`). Its last line is
# `mutation: killed=<k> survived=<s> score=<%>`, score = killed / (killed + survived); a mutant whose
# tests time out or crash counts as killed, one that no test reaches as survived.
mutation: $(STAMP)
	bash scripts/mutation.sh

clean:
	rm -rf $(VENV) .infrec .pytest_cache .mypy_cache .ruff_cache
