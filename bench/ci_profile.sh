#!/usr/bin/env bash
# Where the test suite's time goes: the 30 slowest tests (pytest --durations) and the time per
# folder and per test file, from one run of the suite. Extra arguments go to pytest, e.g.
#   bench/ci_profile.sh -m "not browser"      # the non-browser suite
#   bench/ci_profile.sh -m "not slow"         # the edit-test loop
#   bench/ci_profile.sh -n 0                  # one process, no xdist
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# JUNIT=path keeps the per-test timings (JUnit XML) for a closer look.
junit="${JUNIT:-$out/junit.xml}"
start=$(date +%s)
status=0
# bench/_cpu_plugin.py adds each test's CPU time (worker and waited-for children) to the XML.
PYTHONPATH="bench${PYTHONPATH:+:$PYTHONPATH}" "$python" -m pytest -q -p _cpu_plugin --durations=30 \
  --junitxml="$junit" "$@" | tail -n 60 || status=$?
end=$(date +%s)
echo
echo "wall clock: $((end - start)) s (pytest exit $status)"
"$python" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

root = ET.parse(sys.argv[1]).getroot()
by_folder: dict[str, float] = defaultdict(float)
by_file: dict[str, float] = defaultdict(float)
count: dict[str, int] = defaultdict(int)
for case in root.iter("testcase"):
    name = case.get("classname", "") or case.get("file", "")
    seconds = float(case.get("time", 0) or 0)
    parts = name.split(".")
    folder = "/".join(parts[:-1]) if len(parts) > 1 else parts[0]
    by_folder[folder] += seconds
    by_file[name] += seconds
    count[folder] += 1
cpu_by_file: dict[str, float] = defaultdict(float)
for case in root.iter("testcase"):
    name = case.get("classname", "") or case.get("file", "")
    for prop in case.iter("property"):
        if prop.get("name") == "cpu":
            cpu_by_file[name] += float(prop.get("value", 0) or 0)
by_area: dict[str, float] = defaultdict(float)
for name, seconds in by_file.items():
    leaf = name.split(".")[-2] if name.endswith(".ipynb") else name.split(".")[-1]
    area = "notebooks (nbval)" if name.startswith("notebooks") else leaf.removeprefix("test_").split("_")[0]
    by_area[area] += seconds
total = sum(by_folder.values())
print(f"\ntest time summed over workers: {total:.0f} s")
print("\nper folder (summed test time, tests):")
for folder, seconds in sorted(by_folder.items(), key=lambda kv: -kv[1]):
    print(f"  {seconds:8.1f} s  {count[folder]:5d}  {folder}")
print("\nper area (tests/test_<area>_*.py):")
for area, seconds in sorted(by_area.items(), key=lambda kv: -kv[1])[:20]:
    print(f"  {seconds:8.1f} s  {area}")
print("\nthe 25 slowest test files:")
for name, seconds in sorted(by_file.items(), key=lambda kv: -kv[1])[:25]:
    print(f"  {seconds:8.1f} s  {name}")
if cpu_by_file:
    print(f"\nCPU time summed over tests (workers and their children): {sum(cpu_by_file.values()):.0f} s")
    print("the 25 test files that use the most CPU:")
    for name, seconds in sorted(cpu_by_file.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {seconds:8.1f} s  {name}")
PY
exit "$status"
