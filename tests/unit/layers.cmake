# Checks that each layer includes only what it may (docs/architecture.md):
#   vocabulary (lib/core and spool/{error,input_policy,io,job,json_text,package_layout,plan,version})
#     -> nothing of spool's but itself, and no FFmpeg
#   media   -> the vocabulary (the only layer that includes FFmpeg)
#   storage -> the vocabulary
#   queue   -> the vocabulary
#   aws     -> the vocabulary, and the storage and queue interfaces it implements
# The worker, the faces (spool/transcode*.hpp, spool.hpp) and spool::test may include every layer.
#
#   cmake -DSOURCE_DIR=<repository> -P layers.cmake
cmake_minimum_required(VERSION 3.20)

if(NOT DEFINED SOURCE_DIR)
  message(FATAL_ERROR "layers.cmake: SOURCE_DIR is not set")
endif()

set(vocabulary "spool/(error|input_policy|io|job|json_text|package_layout|plan|version)\\.hpp|core/")
set(ffmpeg "lib(avcodec|avformat|avutil|avfilter|avdevice|swscale|swresample)/")

# layer name, the files it holds (globs), the spool and internal headers it may include
set(layers vocabulary media storage queue aws)
set(vocabulary_files lib/core/*.cpp lib/core/*.hpp include/spool/error.hpp include/spool/input_policy.hpp
    include/spool/io.hpp include/spool/job.hpp include/spool/json_text.hpp include/spool/package_layout.hpp
    include/spool/plan.hpp include/spool/version.hpp)
set(vocabulary_allowed "${vocabulary}")
set(media_files lib/media/*.cpp lib/media/*.hpp include/spool/media/*.hpp)
set(media_allowed "${vocabulary}|spool/media/|media/")
set(storage_files lib/storage/*.cpp lib/storage/*.hpp include/spool/storage/*.hpp)
set(storage_allowed "${vocabulary}|spool/storage/|storage/")
set(queue_files lib/queue/*.cpp lib/queue/*.hpp include/spool/queue/*.hpp)
set(queue_allowed "${vocabulary}|spool/queue/|queue/")
set(aws_files lib/aws/*.cpp lib/aws/*.hpp include/spool/aws/*.hpp)
set(aws_allowed "${vocabulary}|spool/aws/|aws/|spool/storage/store\\.hpp|spool/queue/(adapter|registry)\\.hpp")

set(bad)
set(checked 0)
foreach(layer IN LISTS layers)
  set(globs)
  foreach(g IN LISTS ${layer}_files)
    list(APPEND globs "${SOURCE_DIR}/${g}")
  endforeach()
  file(GLOB files ${globs})
  foreach(file IN LISTS files)
    math(EXPR checked "${checked} + 1")
    file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*)[>\"].*" "\\1" header "${line}")
      file(RELATIVE_PATH where "${SOURCE_DIR}" "${file}")
      if(header MATCHES "^${ffmpeg}" AND NOT layer STREQUAL "media")
        list(APPEND bad "${where}: the ${layer} layer includes FFmpeg's <${header}>")
      elseif(header MATCHES "^(spool|core|media|storage|queue|worker|test|aws)/" AND NOT header MATCHES "^(${${layer}_allowed})")
        list(APPEND bad "${where}: the ${layer} layer includes <${header}>")
      endif()
    endforeach()
  endforeach()
endforeach()

if(checked LESS 40)
  message(FATAL_ERROR "layers.cmake: only ${checked} files found under ${SOURCE_DIR}; the layout moved?")
endif()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "a layer includes what it may not:\n  ${text}")
endif()
message(STATUS "${checked} files keep to their layers")
