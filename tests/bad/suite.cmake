# tests/bad/suite.cmake — included by tests/CMakeLists.txt.
#   bad_models   onnxcc on every malformed model of tests/bad/ (cases.txt):
#                exit status, diagnostic, no file left, bounded time and
#                memory (run.sh, with tests/common/bounded.c)
add_executable(bounded ${CMAKE_SOURCE_DIR}/tests/common/bounded.c)
# without sanitizers: the measured peak RSS is the command's (bounded.c)
target_compile_options(bounded PRIVATE -fno-sanitize=all)
target_link_options(bounded PRIVATE -fno-sanitize=all)
set_target_properties(bounded PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
if(CMAKE_BUILD_TYPE STREQUAL "Debug" OR ONNXCC_SANITIZE OR ONNXCC_FUZZ)
  set(BAD_MODELS_MODE sanitized)
else()
  set(BAD_MODELS_MODE plain)
endif()
add_test(NAME bad_models
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:onnxcc>
          ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_BINARY_DIR}/bad-models
          $<TARGET_FILE:bounded> ${BAD_MODELS_MODE}
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
set_tests_properties(bad_models PROPERTIES TIMEOUT 600)
