# Builds and runs one consumer project of spool, from a clean work directory.
#
#   cmake -DMODE=find-package|add-subdirectory -DSPOOL_SOURCE_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=...
#         [-DGENERATOR=...] [-DMAKE_PROGRAM=...] [-DCXX_COMPILER=...] -P run-consumer.cmake
#
# find-package:     configure, build and install spool into WORK_DIR/prefix, then build the consumer
#                   against that prefix with find_package(spool), and once more with nothing but the
#                   flags `pkg-config --static spool` gives. Both binaries must run and exit 0.
# add-subdirectory: build the consumer with spool added as a subdirectory, and run it.
# installed:        build the consumer against the spool another run installed in PREFIX (the
#                   find-package run's WORK_DIR/prefix), and run its program APP.
cmake_minimum_required(VERSION 3.20)

foreach(var MODE SPOOL_SOURCE_DIR CONSUMER_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run-consumer.cmake: ${var} is not set")
  endif()
endforeach()

# Generator and compiler of the enclosing build, so the consumer is built the same way.
set(common_args)
if(GENERATOR)
  list(APPEND common_args -G ${GENERATOR})
endif()
if(MAKE_PROGRAM)
  list(APPEND common_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX_COMPILER)
  list(APPEND common_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
list(APPEND common_args -DCMAKE_BUILD_TYPE=Release)

# Runs one step, echoing it; any failure ends the test with that step named.
function(step what)
  message(STATUS "consumer ${MODE}: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${MODE}: '${what}' failed (${rc})")
  endif()
endfunction()

# A stale prefix or cache would hide exactly the mistakes this test is for.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
if(NOT APP)
  set(APP app)
endif()

if(MODE STREQUAL "installed")
  if(NOT EXISTS "${PREFIX}")
    message(FATAL_ERROR "consumer ${MODE}: no installed spool in '${PREFIX}'")
  endif()
  step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/app-build ${common_args}
       -DCMAKE_PREFIX_PATH=${PREFIX})
  step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/app-build -j2)
  step("run consumer" ${WORK_DIR}/app-build/${APP})

elseif(MODE STREQUAL "find-package")
  step("configure spool" ${CMAKE_COMMAND} -S ${SPOOL_SOURCE_DIR} -B ${WORK_DIR}/spool-build ${common_args}
       -DCMAKE_INSTALL_PREFIX=${prefix}
       -DSPOOL_BUILD_TESTS=OFF -DSPOOL_BUILD_EXAMPLES=OFF -DSPOOL_BUILD_BENCH=OFF)
  step("build spool" ${CMAKE_COMMAND} --build ${WORK_DIR}/spool-build -j2)
  step("install spool" ${CMAKE_COMMAND} --install ${WORK_DIR}/spool-build)

  step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/app-build ${common_args}
       -DCMAKE_PREFIX_PATH=${prefix})
  step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/app-build -j2)
  step("run consumer" ${WORK_DIR}/app-build/app)

  # pkg-config: GNUInstallDirs may choose lib/ or lib/<multiarch>/; take whichever holds spool.pc.
  file(GLOB_RECURSE pc_files ${prefix}/spool.pc)
  list(LENGTH pc_files n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "consumer ${MODE}: expected one installed spool.pc, found: ${pc_files}")
  endif()
  get_filename_component(pc_dir ${pc_files} DIRECTORY)
  find_program(PKG_CONFIG_EXECUTABLE pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --cflags --libs --static spool
                  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${MODE}: pkg-config --static spool failed (${rc})")
  endif()
  message(STATUS "consumer ${MODE}: pkg-config flags: ${pc_flags}")
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  if(NOT CXX_COMPILER)
    set(CXX_COMPILER c++)
  endif()
  # Sources before libraries: with static archives the order matters.
  step("compile and link with pkg-config" ${CXX_COMPILER} -std=c++20 ${CONSUMER_DIR}/main.cpp ${pc_flags}
       -o ${WORK_DIR}/app-pkg-config)
  step("run pkg-config consumer" ${WORK_DIR}/app-pkg-config)

elseif(MODE STREQUAL "add-subdirectory")
  step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/app-build ${common_args}
       -DSPOOL_SOURCE_DIR=${SPOOL_SOURCE_DIR})
  step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/app-build -j2)
  step("run consumer" ${WORK_DIR}/app-build/app)

else()
  message(FATAL_ERROR "run-consumer.cmake: unknown MODE '${MODE}'")
endif()
message(STATUS "consumer ${MODE}: passed")
