#!/usr/bin/env bash
# Installs Kiln from the build tree into a temporary prefix, builds the
# example app against the installed package, and runs it.
#   install_example.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/kiln/kiln.h"
test -f "$work/prefix/include/kiln/error.h"
test -x "$work/prefix/bin/engine-run"
# The public headers must not leak oneDNN, Eigen or nlohmann/json.
if grep -nE 'dnnl|Eigen|nlohmann' "$work/prefix/include/kiln/"*.h; then
  echo "FAIL: a public header mentions a private dependency"; exit 1
fi

cmake -S "$src/engine/examples/classify" -B "$work/app" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" "$work/app/classify" | tee "$work/out"
grep -q "top-5 of 1000 classes (0 BatchNorms left after folding)" "$work/out"
test "$(grep -c '  class ' "$work/out")" -eq 5
echo "install example: ok"
