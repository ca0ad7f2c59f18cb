# tests/oom/suite.cmake — included by tests/CMakeLists.txt.
#   oom_compile   a zoo model compiled with the N-th allocation failing,
#                 for N from 1 to the total with a stride: exit 2, "out of
#                 memory", no file left (run.sh)
add_test(NAME oom_compile
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:onnxcc>
          ${CMAKE_SOURCE_DIR}/tests/models/ode_euler/model.onnx ${CMAKE_BINARY_DIR}/oom 100
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
set_tests_properties(oom_compile PROPERTIES TIMEOUT 900)
