# Checks that no Catch2 test name holds a ';': CTest's discovery cuts a name there, and the test it
# registers then matches nothing and passes without running.
#
#   cmake -DSOURCE_DIR=<repository> -P test_names.cmake
cmake_minimum_required(VERSION 3.20)
file(GLOB_RECURSE sources "${SOURCE_DIR}/tests/*.cpp")
set(bad)
foreach(file IN LISTS sources)
  file(READ "${file}" text)
  string(REGEX MATCHALL "TEST_CASE\\([ \t\r\n]*\"[^\"]*;[^\"]*\"" found "${text}")
  if(found)
    file(RELATIVE_PATH where "${SOURCE_DIR}" "${file}")
    list(APPEND bad "${where}")
  endif()
endforeach()
list(LENGTH sources count)
if(count LESS 50)
  message(FATAL_ERROR "test_names.cmake: only ${count} test sources under ${SOURCE_DIR}/tests")
endif()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "test names with ';' (CTest would run nothing for them):\n  ${text}")
endif()
