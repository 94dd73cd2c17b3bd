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
#                   find-package run's WORK_DIR/prefix), and run its program APP. With
#                   PKG_CONFIG_MODULE, build its main.cpp once more with that module's flags alone;
#                   with FORBID_NEEDED (a regex), configure with pkg-config finding nothing (as
#                   without FFmpeg's development files) and fail when a binary built, linked with
#                   --no-as-needed, needs a shared library whose name matches it. With RUN_WITH (a
#                   script), run APP through it (`RUN_WITH APP`), as for a program that needs a
#                   server the script starts and stops.
# shared:           build spool's libraries shared (-DBUILD_SHARED_LIBS=ON, nothing else) and install
#                   them into WORK_DIR/prefix, build the consumer against them and run it; then check
#                   what the libraries export (nm -D): spool's symbols, in the ABI namespace ABI, and
#                   none of fmt, SQLite or Boost.URL, which spool links privately.
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
if(CXX_LAUNCHER)  # ccache, when the enclosing build uses it
  list(APPEND common_args -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_LAUNCHER})
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

# Builds CONSUMER_DIR/main.cpp with nothing but `pkg-config --static` flags of `module`, and runs it.
function(build_with_pkg_config module pc_root out)
  file(GLOB_RECURSE pc_files ${pc_root}/${module}.pc)
  list(LENGTH pc_files n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "consumer ${MODE}: expected one installed ${module}.pc, found: ${pc_files}")
  endif()
  get_filename_component(pc_dir ${pc_files} DIRECTORY)
  find_program(PKG_CONFIG_EXECUTABLE pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --cflags --libs --static ${module}
                  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${MODE}: pkg-config --static ${module} failed (${rc})")
  endif()
  message(STATUS "consumer ${MODE}: pkg-config ${module} flags: ${pc_flags}")
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(cxx ${CXX_COMPILER})
  if(NOT cxx)
    set(cxx c++)
  endif()
  # Sources before libraries: with static archives the order matters.
  step("compile and link with pkg-config ${module}" ${cxx} -std=c++20 ${CONSUMER_DIR}/main.cpp -Wl,--no-as-needed ${pc_flags}
       -o ${out})
  step("run pkg-config ${module} consumer" ${out})
endfunction()

# Fails when `binary` needs a shared library matching FORBID_NEEDED.
function(check_needed binary)
  if(NOT FORBID_NEEDED)
    return()
  endif()
  find_program(READELF readelf REQUIRED)
  execute_process(COMMAND ${READELF} -d ${binary} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${MODE}: readelf -d ${binary} failed (${rc})")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${dyn}")
  foreach(line IN LISTS needed)
    if(line MATCHES "${FORBID_NEEDED}")
      message(FATAL_ERROR "consumer ${MODE}: ${binary} needs a forbidden library: ${line}")
    endif()
  endforeach()
  list(LENGTH needed n)
  message(STATUS "consumer ${MODE}: ${binary} needs ${n} shared libraries, none matching '${FORBID_NEEDED}'")
endfunction()

# The shared build: `app` runs on spool's shared libraries, and each library exports spool's API in
# the ABI namespace and nothing of the libraries spool links privately (mangled names: fmt::,
# boost::urls::, SQLite's C functions). An internal function stays hidden.
function(check_exports app prefix)
  find_program(READELF readelf REQUIRED)
  execute_process(COMMAND ${READELF} -d ${app} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT dyn MATCHES "\\(NEEDED\\)[^\n]*libspool-core\\.so")
    message(FATAL_ERROR "consumer ${MODE}: ${app} does not need libspool-core.so")
  endif()
  file(GLOB_RECURSE libraries ${prefix}/libspool-*.so)
  list(LENGTH libraries n)
  if(NOT n EQUAL 5)  # core, media, worker, aws, test
    message(FATAL_ERROR "consumer ${MODE}: expected 5 installed libspool-*.so, found: ${libraries}")
  endif()
  # The soname names the ABI too: major.minor while the major version is 0, else the major.
  string(REGEX REPLACE "^v([0-9]+)_([0-9]+)$" "\\1" abi_major "${ABI}")
  string(REGEX REPLACE "^v([0-9]+)_([0-9]+)$" "\\1.\\2" abi_soversion "${ABI}")
  if(NOT abi_major EQUAL 0)
    set(abi_soversion ${abi_major})
  endif()
  string(LENGTH "${ABI}" abi_length)
  set(in_abi "N[rVK]*5spool${abi_length}${ABI}")
  set(private_name "^(sqlite3_|_Z(Z|T[VISHWT]|GV)?N[rVK]*(3fmt|5boost4urls))")
  foreach(library IN LISTS libraries)
    get_filename_component(name ${library} NAME)
    execute_process(COMMAND ${READELF} -d ${library} OUTPUT_VARIABLE dyn)
    if(NOT dyn MATCHES "Library soname: \\[${name}\\.${abi_soversion}\\]")
      message(FATAL_ERROR "consumer ${MODE}: the soname of ${name} is not ${name}.${abi_soversion}")
    endif()
    execute_process(COMMAND ${NM} -D --defined-only --format=posix ${library} OUTPUT_VARIABLE exported RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "consumer ${MODE}: nm -D ${library} failed (${rc})")
    endif()
    string(REGEX MATCHALL "[^\n]+" symbols "${exported}")
    set(spool_count 0)
    set(leaked)
    foreach(symbol IN LISTS symbols)
      if(symbol MATCHES "${in_abi}")
        math(EXPR spool_count "${spool_count} + 1")
      endif()
      if(symbol MATCHES "${private_name}")
        list(APPEND leaked "${symbol}")
      endif()
    endforeach()
    list(LENGTH symbols total)
    message(STATUS "consumer ${MODE}: ${name} exports ${total} symbols, ${spool_count} in spool::${ABI}")
    if(spool_count EQUAL 0)
      message(FATAL_ERROR "consumer ${MODE}: ${name} exports nothing in spool::${ABI}")
    endif()
    if(leaked)
      list(JOIN leaked "\n  " shown)
      message(FATAL_ERROR "consumer ${MODE}: ${name} exports symbols of a library spool links privately:\n  ${shown}")
    endif()
    if(name MATCHES "^libspool-core")
      # In the library (its symbol table), but not exported: the visibility is hidden by default.
      set(internal "_ZN5spool${abi_length}${ABI}7storage20refused_address_kind")
      execute_process(COMMAND ${NM} --defined-only --format=posix ${library} OUTPUT_VARIABLE all_symbols)
      if(NOT all_symbols MATCHES "${internal}")
        message(FATAL_ERROR "consumer ${MODE}: ${name} does not define ${internal} at all")
      endif()
      if(exported MATCHES "${internal}")
        message(FATAL_ERROR "consumer ${MODE}: ${name} exports the internal ${internal}")
      endif()
      if(NOT exported MATCHES "_ZN5spool${abi_length}${ABI}7versionEv T")
        message(FATAL_ERROR "consumer ${MODE}: ${name} does not export spool::${ABI}::version()")
      endif()
    endif()
  endforeach()
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
  if(FORBID_NEEDED)
    # As on a machine without FFmpeg's development files: pkg-config finds none of them.
    file(MAKE_DIRECTORY ${WORK_DIR}/no-pkg-config)
    set(ENV{PKG_CONFIG_LIBDIR} ${WORK_DIR}/no-pkg-config)
    set(ENV{PKG_CONFIG_PATH} "")
  endif()
  step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/app-build ${common_args}
       -DCMAKE_PREFIX_PATH=${PREFIX})
  step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/app-build -j2)
  unset(ENV{PKG_CONFIG_LIBDIR})
  step("run consumer" ${RUN_WITH} ${WORK_DIR}/app-build/${APP})
  check_needed(${WORK_DIR}/app-build/${APP})
  if(PKG_CONFIG_MODULE)
    build_with_pkg_config(${PKG_CONFIG_MODULE} ${PREFIX} ${WORK_DIR}/app-pkg-config)
    check_needed(${WORK_DIR}/app-pkg-config)
  endif()

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

  # pkg-config: GNUInstallDirs may choose lib/ or lib/<multiarch>/; the glob takes either.
  build_with_pkg_config(spool ${prefix} ${WORK_DIR}/app-pkg-config)

elseif(MODE STREQUAL "shared")
  foreach(var ABI NM)
    if(NOT ${var})
      message(FATAL_ERROR "consumer ${MODE}: ${var} is not set")
    endif()
  endforeach()
  # Only the libraries; --no-undefined makes a symbol one spool library needs from another, and
  # that one does not export, fail at the link of the library rather than at a consumer's.
  step("configure spool" ${CMAKE_COMMAND} -S ${SPOOL_SOURCE_DIR} -B ${WORK_DIR}/spool-build ${common_args}
       -DCMAKE_INSTALL_PREFIX=${prefix} -DBUILD_SHARED_LIBS=ON -DSPOOL_BUILD_TESTS=OFF
       -DSPOOL_BUILD_EXAMPLES=OFF -DSPOOL_BUILD_BENCH=OFF -DSPOOL_BUILD_CLI=OFF
       -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--no-undefined)
  step("build spool" ${CMAKE_COMMAND} --build ${WORK_DIR}/spool-build -j2)
  step("install spool" ${CMAKE_COMMAND} --install ${WORK_DIR}/spool-build)

  step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/app-build ${common_args}
       -DCMAKE_PREFIX_PATH=${prefix})
  step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/app-build -j2)
  step("run consumer" ${WORK_DIR}/app-build/app)
  check_exports(${WORK_DIR}/app-build/app ${prefix})

elseif(MODE STREQUAL "add-subdirectory")
  step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/app-build ${common_args}
       -DSPOOL_SOURCE_DIR=${SPOOL_SOURCE_DIR})
  step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/app-build -j2)
  step("run consumer" ${WORK_DIR}/app-build/app)

else()
  message(FATAL_ERROR "run-consumer.cmake: unknown MODE '${MODE}'")
endif()
message(STATUS "consumer ${MODE}: passed")
