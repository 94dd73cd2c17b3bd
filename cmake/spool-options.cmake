# Warnings and sanitizers for spool's own targets only; never exported to consumers.
function(spool_target_options target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    # -Wconversion and -Wsign-conversion: a narrowing or a change of sign is written out where it is
    # meant, and checked where the value can really be out of range.
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                             -Wimplicit-fallthrough -Wconversion -Wsign-conversion)
    if(SPOOL_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
  if(SPOOL_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${SPOOL_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${SPOOL_SANITIZE})
    # GCC warns at every std::atomic_thread_fence, which ThreadSanitizer cannot model; Asio's handler
    # completion uses one in every test that includes it. spool's own code has none.
    if(SPOOL_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
endfunction()
