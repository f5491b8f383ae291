# Kiln's layers as build targets, and the check that keeps their includes
# pointing down.
#
#   kiln_layer(<name> FOLDERS <folder>... [USES <layer>...] [LIBS <target>...]
#              [INCLUDE_DIRS <folder>...])
#
# compiles the .cpp files directly in each folder (not in its subfolders:
# a subfolder is listed on its own) into the object library kiln_<name>.
# A file of the layer (its .h files too) may include the headers of the
# layer's own folders, of the layers in USES, and of the libraries in LIBS;
# nothing else from the tree. INCLUDE_DIRS are extra include roots the
# layer exports (engine's `kiln/kiln.h` lives in engine/kiln/).
#
#   kiln_check_layers()
#
# comes after the last kiln_layer(). It writes the table of layers
# (build/kiln_layers.cmake) and makes every kiln_<name> first run
# cmake/check_layers.cmake on its files: an #include that reaches a layer
# not in USES, a file of no layer, or a library not in LIBS fails the build
# with the file, the line and the include.

set(KILN_LAYER_CHECKER ${CMAKE_CURRENT_LIST_DIR}/check_layers.cmake)

function(kiln_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "FOLDERS;USES;LIBS;INCLUDE_DIRS")
  set(files "")
  set(sources "")
  foreach(folder IN LISTS ARG_FOLDERS)
    if(NOT IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${folder})
      message(FATAL_ERROR "kiln_layer(${name}): FOLDERS: no folder '${folder}'")
    endif()
    file(GLOB folder_files CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
         ${PROJECT_SOURCE_DIR}/${folder}/*.cpp ${PROJECT_SOURCE_DIR}/${folder}/*.h)
    list(APPEND files ${folder_files})
  endforeach()
  foreach(file IN LISTS files)
    list(APPEND sources ${PROJECT_SOURCE_DIR}/${file})
  endforeach()

  add_library(kiln_${name} OBJECT ${sources})
  set_target_properties(kiln_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(kiln_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  foreach(dir IN LISTS ARG_INCLUDE_DIRS)
    target_include_directories(kiln_${name} PUBLIC ${PROJECT_SOURCE_DIR}/${dir})
  endforeach()
  foreach(layer IN LISTS ARG_USES)
    if(NOT TARGET kiln_${layer})
      message(FATAL_ERROR "kiln_layer(${name}): USES ${layer}: no such layer declared before it")
    endif()
    target_link_libraries(kiln_${name} PUBLIC kiln_${layer})
  endforeach()
  target_link_libraries(kiln_${name} PUBLIC ${ARG_LIBS})

  set_property(GLOBAL APPEND PROPERTY KILN_LAYERS ${name})
  set_property(GLOBAL APPEND PROPERTY KILN_INCLUDE_ROOTS ${ARG_INCLUDE_DIRS})
  set_property(GLOBAL PROPERTY KILN_LAYER_${name}_FILES ${files})
  set_property(GLOBAL PROPERTY KILN_LAYER_${name}_USES ${ARG_USES})
  set_property(GLOBAL PROPERTY KILN_LAYER_${name}_LIBS ${ARG_LIBS})
endfunction()

function(kiln_check_layers)
  get_property(layers GLOBAL PROPERTY KILN_LAYERS)
  get_property(roots GLOBAL PROPERTY KILN_INCLUDE_ROOTS)
  set(table "# Written by kiln_check_layers() (cmake/KilnLayers.cmake); read by cmake/check_layers.cmake.\n")
  string(APPEND table "set(KILN_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")\n")
  string(APPEND table "set(KILN_INCLUDE_ROOTS \".;${roots}\")\n")
  string(APPEND table "set(KILN_LAYERS \"${layers}\")\n")
  foreach(layer IN LISTS layers)
    foreach(field FILES USES LIBS)
      get_property(value GLOBAL PROPERTY KILN_LAYER_${layer}_${field})
      string(APPEND table "set(KILN_LAYER_${layer}_${field} \"${value}\")\n")
    endforeach()
  endforeach()
  # Rewritten only when it changes, so that the checks rerun only then.
  set(table_file ${PROJECT_BINARY_DIR}/kiln_layers.cmake)
  file(CONFIGURE OUTPUT ${table_file} CONTENT "${table}")
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/layers)

  foreach(layer IN LISTS layers)
    get_property(files GLOBAL PROPERTY KILN_LAYER_${layer}_FILES)
    list(TRANSFORM files PREPEND ${PROJECT_SOURCE_DIR}/)
    set(stamp ${PROJECT_BINARY_DIR}/layers/${layer}.checked)
    add_custom_command(
      OUTPUT ${stamp}
      COMMAND ${CMAKE_COMMAND} -DKILN_LAYER_TABLE=${table_file} -DKILN_LAYER=${layer}
              -DKILN_STAMP=${stamp} -P ${KILN_LAYER_CHECKER}
      DEPENDS ${files} ${table_file} ${KILN_LAYER_CHECKER}
      COMMENT "Checking the includes of layer ${layer}"
      VERBATIM)
    add_custom_target(kiln_${layer}_includes DEPENDS ${stamp})
    add_dependencies(kiln_${layer} kiln_${layer}_includes)
  endforeach()
endfunction()
