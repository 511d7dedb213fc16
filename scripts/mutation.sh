#!/usr/bin/env bash
# Mutation check of the rules in src/infrec/core/: mutmut changes one operator, constant or call at
# a time in each function of the modules below and runs the unit tests that call that function; a
# change no test notices ("survived") is a rule the tests do not pin down.
#
#   scripts/mutation.sh                 every module below, from a clean mutants/ folder
#   scripts/mutation.sh ranking trial   only these modules (keeps mutants/ between runs)
#
# Judged by tests/unit alone (fast, no processes), one worker at nice 19 so the machine stays usable;
# mutmut runs only the tests that call the mutated function, under a CPU-time limit of
# 2 x timeout_multiplier x (those tests' own time + 1 s) (pyproject's [tool.mutmut]).
# Last line: `mutation: killed=<k> survived=<s> score=<%>`, score = killed / (killed + survived).
# A mutant that timed out (its tests looped or hung) or crashed the test process counts as killed:
# the tests noticed it. One with no test calling its function counts as survived.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export PYTHONPATH="$PWD/src"

# What is mutated, per module: mutmut names a mutant <module>.x_<function>__mutmut_<n>, or
# <module>.xǁ<Class>ǁ<method>__mutmut_<n>. Of genai.py only the ranking and the search.
declare -A SELECT=(
  [recommend]="infrec.core.recommend.*"
  [ranking]="infrec.core.ranking.*"
  [confidence]="infrec.core.confidence.*"
  [trial]="infrec.core.trial.*"
  [ratesearch]="infrec.core.ratesearch.*"
  [plan]="infrec.core.plan.*"
  [emulation]="infrec.core.emulation.*"
  [genai]="infrec.core.genai.x_judge_level__* infrec.core.genai.xǁConcurrencySearchǁ* infrec.core.genai.x_cost_per_million_tokens__* infrec.core.genai.x_rank_with_ties__*"
)
ORDER=(ranking confidence trial ratesearch plan emulation genai recommend)

if [ $# -eq 0 ]; then
  modules=("${ORDER[@]}")
  rm -rf mutants
else
  modules=("$@")
fi
globs=()
for m in "${modules[@]}"; do
  [ -n "${SELECT[$m]:-}" ] || { echo "unknown module: $m (one of: ${ORDER[*]})" >&2; exit 2; }
  read -r -a g <<<"${SELECT[$m]}"
  globs+=("${g[@]}")
done

mkdir -p mutants
echo '*' >mutants/.gitignore   # mutmut's working copy: never committed
start=$(date +%s)
nice -n 19 "$BIN/mutmut" run --max-children 1 "${globs[@]}" >mutants/run.log 2>&1 || {
  tail -40 mutants/run.log >&2
  exit 1
}
echo "mutmut: $(($(date +%s) - start)) s (log: mutants/run.log)"

"$BIN/python" - "${globs[@]}" <<'EOF'
"""Tally mutmut's verdicts (mutants/**/*.py.meta) for the selected mutants, per module."""
import fnmatch
import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 24, -24, 152, 255, 36, -9, -11}   # a failing test, a timeout or a crash
SURVIVED = {0, 5, 33}                              # passed, or no test calls the function
globs = sys.argv[1:]
per_module: dict[str, Counter[str]] = {}
survivors: list[str] = []
for meta in sorted(Path("mutants/src").rglob("*.py.meta")):
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        if not any(fnmatch.fnmatchcase(name, g) for g in globs):
            continue
        module = name.split(".x")[0].rsplit(".", 1)[-1]
        c = per_module.setdefault(module, Counter())
        if code in KILLED:
            c["killed"] += 1
        elif code in SURVIVED:
            c["survived"] += 1
            survivors.append(name)
        else:
            c["other"] += 1
            survivors.append(f"{name} (exit {code})")
total: Counter[str] = Counter()
for module, c in sorted(per_module.items()):
    k, s = c["killed"], c["survived"]
    total.update(c)
    other = f" unjudged={c['other']}" if c["other"] else ""
    print(f"  {module:<11} killed={k:<4} survived={s:<4} score={100.0 * k / max(k + s, 1):.1f}{other}")
for name in survivors:
    print(f"  survived: {name}")
k, s = total["killed"], total["survived"]
print(f"mutation: killed={k} survived={s} score={100.0 * k / max(k + s, 1):.1f}")
EOF
