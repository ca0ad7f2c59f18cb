# tests/bad/suite.cmake — included by tests/CMakeLists.txt.
#   bad_models   onnxcc on every malformed model of tests/bad/ (cases.txt):
#                exit status, diagnostic, no file left, bounded time
add_test(NAME bad_models
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:onnxcc>
          ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_BINARY_DIR}/bad-models
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
set_tests_properties(bad_models PROPERTIES TIMEOUT 600)
