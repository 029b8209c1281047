#!/usr/bin/env bash
# bench/fuzz.sh [--runs N | --seconds S] [--keep-going] [--no-build] [target...]
#
# Builds the `fuzz` preset (clang, libFuzzer, ASan + UBSan) and runs each fuzz
# target (default: all of them) for N executions or S seconds, starting from
# its seed corpus fuzz/corpus/<target>/. An input that crashes a target is
# written into that folder as crash-<sha1> (timeout-, oom-: hangs and memory
# blow-ups; rename it to say what it was);
# the inputs the fuzzer finds interesting go to build/fuzz/fuzz-work/<target>/
# (not into the repository). Prints the executions per target at the end.
# The exit status is 1 when a target crashed. --keep-going (with --seconds)
# runs libFuzzer in fork mode and carries on after each crash, so that one
# run collects every crash it can find. --no-build runs what build/fuzz holds.
# See docs/06-development.md.
#
# Environment: MIP_BUILD_LOCK=<file> builds under `flock <file>` (machines
# shared by several builds); FUZZ_ARGS adds libFuzzer flags (e.g. -jobs=2).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
all=(config checkpoint idx cifar manifest)
limit=(-max_total_time=60)
targets=()
keep_going=()
build=1
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage; limit=(-runs="$2"); shift 2 ;;
    --seconds) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage; limit=(-max_total_time="$2"); shift 2 ;;
    --keep-going) keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) [[ " ${all[*]} " == *" $1 "* ]] || { echo "fuzz.sh: no target [$1]; targets: ${all[*]}" >&2; exit 2; }
       targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")

cd "$root"
if [[ $build -eq 1 ]]; then
  [[ -f build/fuzz/CMakeCache.txt ]] || cmake --preset fuzz
  lock=()
  [[ -n ${MIP_BUILD_LOCK:-} ]] && lock=(flock "$MIP_BUILD_LOCK")
  "${lock[@]}" cmake --build --preset fuzz --target "${targets[@]/#/fuzz_}"
fi

# Leaks are LibTorch's and yaml-cpp's process-wide caches, not per input; ODR
# reports come from the plugins sharing the SDK's inline symbols.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_odr_violation=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
status=0
summary=""
for t in "${targets[@]}"; do
  work=build/fuzz/fuzz-work/$t
  mkdir -p "$work"
  log=$work/last.log
  echo "== fuzz_$t (${limit[*]}), log: $log"
  rc=0
  nice build/fuzz/fuzz/fuzz_"$t" "${limit[@]}" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="fuzz/corpus/$t/" \
    "${keep_going[@]}" ${FUZZ_ARGS:-} "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  tail -n 3 "$log"
  # The final statistics, or in fork mode the last progress line's count.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [[ -n $runs ]] || runs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$log" | tail -n 1)
  line="fuzz_$t: ${runs:-?} executions"
  if [[ $rc -ne 0 ]]; then
    status=1
    line+=", CRASHED (exit $rc)"
  fi
  crashes=$(grep -Eo 'fuzz/corpus/[^ ]*(crash|timeout|oom|leak)-[0-9a-f]+' "$log" | sort -u | tr '\n' ' ' || true)
  [[ -z $crashes ]] || { status=1; line+=", crash inputs: $crashes"; }
  summary+="$line"$'\n'
done
echo
printf '%s' "$summary"
exit $status
