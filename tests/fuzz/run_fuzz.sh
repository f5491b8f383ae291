#!/usr/bin/env bash
# Runs one libFuzzer target for a given time:
#   tests/fuzz/run_fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
# TARGET is npy, graph_json, model or onnx (or npy_fuzz, ...). Builds the target in
# build-fuzz (clang++, -fsanitize=fuzzer,address,undefined) if needed, starts
# from the seed corpus tests/fuzz/corpus/TARGET plus what earlier runs found
# (build-fuzz/corpus/TARGET), and prints the number of executions. A crash,
# a sanitizer report, a leak or an input slower than 25 s fails the run; the
# input is saved as build-fuzz/artifacts/TARGET/crash-* (see docs/FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 2 ]; then
  echo "usage: tests/fuzz/run_fuzz.sh npy|graph_json|model|onnx SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
name=${1%_fuzz}
seconds=$2
shift 2
case "$name" in
  npy) dict=tests/fuzz/npy.dict ;;
  graph_json | model) dict=tests/fuzz/graph_json.dict ;;
  onnx) dict=tests/fuzz/onnx.dict ;;
  *) echo "run_fuzz.sh: unknown target '$1' (npy, graph_json, model, onnx)" >&2; exit 2 ;;
esac

build=${KILN_FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$build/CMakeCache.txt" ]; then
  # binutils' ar and ranlib, pinned: with clang, CMake would pick llvm-ar when
  # the llvm package happens to be installed, and the build would differ
  # between machines (scripts/check-deps test flags it).
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_AR="$(command -v ar)" -DCMAKE_RANLIB="$(command -v ranlib)" \
        -DKILN_FUZZ=ON -DKILN_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target "${name}_fuzz" >/dev/null

corpus="$build/corpus/$name"
artifacts="$build/artifacts/$name"
log="$build/${name}_fuzz.log"
mkdir -p "$corpus" "$artifacts"

# detect_leaks: oneDNN's caches and OpenMP's thread pool are reachable at
# exit, so LeakSanitizer stays on; UBSan aborts on the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1

status=0
"$build/tests/fuzz/${name}_fuzz" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
    -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" \
    "$corpus" "tests/fuzz/corpus/$name" >"$log" 2>&1 || status=$?

runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
[ -n "$runs" ] || runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*' || true)
echo "fuzz $name: ${runs:-?} executions in ${seconds}s, exit $status (log: $log)"
if [ "$status" -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal|uncaught exception' "$log" \
    | head -20 >&2 || true
  tail -40 "$log" >&2
fi
exit "$status"
