# Checks every #include in the files of one layer against the table of
# layers that kiln_check_layers() (cmake/KilnLayers.cmake) writes:
#
#   cmake -DKILN_LAYER_TABLE=build/kiln_layers.cmake -DKILN_LAYER=ir
#         [-DKILN_STAMP=build/layers/ir.checked] -P cmake/check_layers.cmake
#
# An include is resolved as the compiler would, in the including file's
# folder (quoted includes only), then in each include root of the tree. One
# that lands on a file of the tree must land in the layer itself or in a
# layer it USES; one that does not is a library's, and for the libraries
# named in library_of() below, the layer must list that library in LIBS.
# Every include that breaks the rule is printed as
#   ir/graph.h:21: error: #include "engine/engine.h": ...
# and the script fails; on success it touches KILN_STAMP.
cmake_minimum_required(VERSION 3.18)

foreach(var KILN_LAYER_TABLE KILN_LAYER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_layers: -D${var}=... is required")
  endif()
endforeach()
include(${KILN_LAYER_TABLE})
if(NOT KILN_LAYER IN_LIST KILN_LAYERS)
  message(FATAL_ERROR "check_layers: no layer '${KILN_LAYER}' in ${KILN_LAYER_TABLE}")
endif()

# The library target whose headers `include` names, or "" for one not listed
# here (the standard library, the system), which any layer may include.
function(library_of include out)
  if(include MATCHES "^(dnnl|oneapi/dnnl/)")
    set(${out} DNNL::dnnl PARENT_SCOPE)
  elseif(include MATCHES "^(Eigen|unsupported/Eigen)/")
    set(${out} Eigen3::Eigen PARENT_SCOPE)
  elseif(include MATCHES "^nlohmann/")
    set(${out} nlohmann_json::nlohmann_json PARENT_SCOPE)
  elseif(include STREQUAL "omp.h")
    set(${out} OpenMP::OpenMP_CXX PARENT_SCOPE)
  elseif(include MATCHES "^doctest/")
    set(${out} doctest::doctest PARENT_SCOPE)
  elseif(include MATCHES "^benchmark/")
    set(${out} benchmark::benchmark PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# Every file of the tree that belongs to a layer, and its layer.
set(all_files "")
set(all_owners "")
foreach(layer IN LISTS KILN_LAYERS)
  foreach(file IN LISTS KILN_LAYER_${layer}_FILES)
    list(APPEND all_files ${file})
    list(APPEND all_owners ${layer})
  endforeach()
endforeach()

# The path below KILN_SOURCE_DIR of the file `include` names from `file`
# (itself such a path), or "" when it names none in the tree.
function(resolve file include quoted out)
  set(candidates "")
  if(quoted)
    get_filename_component(dir ${file} DIRECTORY)
    list(APPEND candidates ${KILN_SOURCE_DIR}/${dir}/${include})
  endif()
  foreach(root IN LISTS KILN_INCLUDE_ROOTS)
    list(APPEND candidates ${KILN_SOURCE_DIR}/${root}/${include})
  endforeach()
  foreach(candidate IN LISTS candidates)
    if(EXISTS ${candidate} AND NOT IS_DIRECTORY ${candidate})
      get_filename_component(path ${candidate} ABSOLUTE)
      file(RELATIVE_PATH path ${KILN_SOURCE_DIR} ${path})
      if(NOT path MATCHES "^\\.\\./")
        set(${out} ${path} PARENT_SCOPE)
        return()
      endif()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

set(allowed_layers ${KILN_LAYER} ${KILN_LAYER_${KILN_LAYER}_USES})
string(REPLACE ";" ", " allowed_layers_text "${allowed_layers}")
set(allowed_libs ${KILN_LAYER_${KILN_LAYER}_LIBS})
string(REPLACE ";" ", " allowed_libs_text "${allowed_libs}")
if(allowed_libs_text STREQUAL "")
  set(allowed_libs_text "none")
endif()

set(errors "")
set(error_count 0)
foreach(file IN LISTS KILN_LAYER_${KILN_LAYER}_FILES)
  file(STRINGS ${KILN_SOURCE_DIR}/${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  if(NOT lines)
    continue()
  endif()
  file(READ ${KILN_SOURCE_DIR}/${file} text)
  foreach(line IN LISTS lines)
    string(REGEX MATCH "#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]" directive "${line}")
    if(directive STREQUAL "")
      continue()
    endif()
    set(include ${CMAKE_MATCH_2})
    set(quoted OFF)
    if(CMAKE_MATCH_1 STREQUAL "\"")
      set(quoted ON)
      set(shown "\"${include}\"")
    else()
      set(shown "<${include}>")
    endif()

    set(problem "")
    resolve(${file} ${include} ${quoted} target)
    if(NOT target STREQUAL "")
      list(FIND all_files ${target} index)
      if(index EQUAL -1)
        set(problem "${target} is in no layer; layer ${KILN_LAYER} may include only ${allowed_layers_text}")
      else()
        list(GET all_owners ${index} owner)
        if(NOT owner IN_LIST allowed_layers)
          set(problem "a file of layer ${owner}; layer ${KILN_LAYER} may include only ${allowed_layers_text}")
        endif()
      endif()
    else()
      library_of(${include} library)
      if(NOT library STREQUAL "" AND NOT library IN_LIST allowed_libs)
        set(problem "a header of ${library}; layer ${KILN_LAYER} may use only the libraries ${allowed_libs_text}")
      endif()
    endif()

    if(NOT problem STREQUAL "")
      # The line number: newlines before the directive's first occurrence.
      string(FIND "${text}" "${directive}" offset)
      string(SUBSTRING "${text}" 0 ${offset} before)
      string(REGEX MATCHALL "\n" newlines "${before}")
      list(LENGTH newlines line_number)
      math(EXPR line_number "${line_number} + 1")
      string(APPEND errors "${file}:${line_number}: error: #include ${shown}: ${problem}\n")
      math(EXPR error_count "${error_count} + 1")
    endif()
  endforeach()
endforeach()

if(NOT errors STREQUAL "")
  message("${errors}")
  string(REPLACE ";" ", " layers_text "${KILN_LAYERS}")
  message(FATAL_ERROR "check_layers: ${error_count} #include(s) in layer ${KILN_LAYER} break the "
                      "layering (layers, bottom up: ${layers_text}; what each may include: "
                      "kiln_layer() in CMakeLists.txt)")
endif()
if(DEFINED KILN_STAMP)
  file(TOUCH ${KILN_STAMP})
endif()
