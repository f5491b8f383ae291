# cmake/check_layers.cmake on a small tree of its own, one case per rule:
#   cmake -DKILN_CHECKER=cmake/check_layers.cmake -DKILN_WORK=<scratch dir> -P check_layers_test.cmake
# Fails (FATAL_ERROR) at the first case whose outcome or message is not the expected one.
cmake_minimum_required(VERSION 3.18)

file(REMOVE_RECURSE ${KILN_WORK})
set(src ${KILN_WORK}/src)

# The tree: ir <- ops, passes <- engine, with a public header root engine/
# ("kiln/api.h") as in Kiln, and a tests/ folder that is in no layer.
file(WRITE ${src}/ir/graph.h "#pragma once\n#include <vector>\n")
file(WRITE ${src}/ops/conv.h "#pragma once\n#include \"ir/graph.h\"\n#include <oneapi/dnnl/dnnl.hpp>\n")
file(WRITE ${src}/passes/fold.cpp "#include \"ir/graph.h\"\n#include <Eigen/Core>\n")
file(WRITE ${src}/engine/engine.h "#pragma once\n#include \"ops/conv.h\"\n#include \"passes/fold.cpp\"\n")
file(WRITE ${src}/engine/kiln/api.h "#pragma once\n#include \"ir/graph.h\"\n")
file(WRITE ${src}/engine/api.cpp "#include \"kiln/api.h\"\n#include \"engine.h\"\n")
file(WRITE ${src}/tests/support.h "#pragma once\n")
file(WRITE ${KILN_WORK}/table.cmake "
set(KILN_SOURCE_DIR \"${src}\")
set(KILN_INCLUDE_ROOTS \".;engine\")
set(KILN_LAYERS \"ir;ops;passes;engine\")
set(KILN_LAYER_ir_FILES \"ir/graph.h\")
set(KILN_LAYER_ops_FILES \"ops/conv.h\")
set(KILN_LAYER_ops_USES \"ir\")
set(KILN_LAYER_ops_LIBS \"DNNL::dnnl\")
set(KILN_LAYER_passes_FILES \"passes/fold.cpp\")
set(KILN_LAYER_passes_USES \"ir\")
set(KILN_LAYER_passes_LIBS \"Eigen3::Eigen\")
set(KILN_LAYER_engine_FILES \"engine/engine.h;engine/api.cpp;engine/kiln/api.h\")
set(KILN_LAYER_engine_USES \"ir;ops;passes\")
")

# Runs the checker on `layer`; sets `rc` and `out` (stdout and stderr).
function(check layer)
  file(REMOVE ${KILN_WORK}/${layer}.checked)
  execute_process(COMMAND ${CMAKE_COMMAND} -DKILN_LAYER_TABLE=${KILN_WORK}/table.cmake
                          -DKILN_LAYER=${layer} -DKILN_STAMP=${KILN_WORK}/${layer}.checked
                          -P ${KILN_CHECKER}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
endfunction()

function(expect_pass case layer)
  check(${layer})
  if(NOT rc EQUAL 0 OR NOT EXISTS ${KILN_WORK}/${layer}.checked)
    message(FATAL_ERROR "${case}: expected the check to pass, got exit ${rc}:\n${out}")
  endif()
  message(STATUS "ok: ${case}")
endfunction()

function(expect_fail case layer expected)
  check(${layer})
  string(FIND "${out}" "${expected}" at)
  if(rc EQUAL 0 OR at EQUAL -1 OR EXISTS ${KILN_WORK}/${layer}.checked)
    message(FATAL_ERROR "${case}: expected a failure saying\n  ${expected}\ngot exit ${rc}:\n${out}")
  endif()
  message(STATUS "ok: ${case}")
endfunction()

expect_pass("includes of the layer itself, the layers it uses, its libraries and the std pass" ir)
expect_pass("ops may include ir and oneDNN" ops)
expect_pass("passes may include ir and Eigen" passes)
expect_pass("engine may include every layer below it, and kiln/ through its include root" engine)

file(APPEND ${src}/ir/graph.h "\n// a comment\n#include \"engine/engine.h\"\n")
expect_fail("an include of engine/engine.h in ir fails, naming the file, line and include" ir
            "ir/graph.h:5: error: #include \"engine/engine.h\": a file of layer engine; layer ir may include only ir")
file(WRITE ${src}/ir/graph.h "#pragma once\n#include \"../engine/engine.h\"\n")
expect_fail("a relative include is resolved as the compiler does" ir
            "ir/graph.h:2: error: #include \"../engine/engine.h\": a file of layer engine")
file(WRITE ${src}/ir/graph.h "#pragma once\n#include <kiln/api.h>\n")
expect_fail("an include through another include root is resolved too" ir
            "ir/graph.h:2: error: #include <kiln/api.h>: a file of layer engine")
file(WRITE ${src}/ir/graph.h "#pragma once\n#include \"tests/support.h\"\n")
expect_fail("a file of no layer may not be included" ir
            "ir/graph.h:2: error: #include \"tests/support.h\": tests/support.h is in no layer")
file(WRITE ${src}/ir/graph.h "#pragma once\n")

file(APPEND ${src}/passes/fold.cpp "#include \"ops/conv.h\"\n")
expect_fail("a sibling layer may not be included" passes
            "passes/fold.cpp:3: error: #include \"ops/conv.h\": a file of layer ops; layer passes may include only passes, ir")
file(WRITE ${src}/passes/fold.cpp "#include \"ir/graph.h\"\n#  include   <dnnl.hpp>\n")
expect_fail("a library the layer does not list may not be included" passes
            "passes/fold.cpp:2: error: #include <dnnl.hpp>: a header of DNNL::dnnl; layer passes may use only the libraries Eigen3::Eigen")
