# tests/oom/suite.cmake — included by tests/CMakeLists.txt.
#   oom_every     a full compile of a zoo model (to a .so, -O0) with each of
#                 onnxcc's own allocations failing in turn, every N: the
#                 onnxcc command line forks before each allocation and the
#                 child fails it (every.c): exit 2, "out of memory", no
#                 file left
#   oom_compile   the same model compiled by the onnxcc binary with
#                 ONNXCC_FAIL_ALLOC=N, a separate process per N, for a
#                 sample of N (run.sh): the environment variable and the
#                 whole process from its start
add_executable(oom_every ${CMAKE_CURRENT_LIST_DIR}/every.c)
target_link_libraries(oom_every PRIVATE onnxcc_core)
set_target_properties(oom_every PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
add_test(NAME oom_every
  COMMAND sh -c "rm -rf oom-every oom-every.keep && mkdir oom-every && exec \"$0\" oom-every \"$1\" -O0 -o oom-every/m.so"
          $<TARGET_FILE:oom_every> ${CMAKE_SOURCE_DIR}/tests/models/ode_euler/model.onnx
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
set_tests_properties(oom_every PROPERTIES TIMEOUT 900)
add_test(NAME oom_compile
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:onnxcc>
          ${CMAKE_SOURCE_DIR}/tests/models/ode_euler/model.onnx ${CMAKE_BINARY_DIR}/oom 100
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
set_tests_properties(oom_compile PROPERTIES TIMEOUT 900)
