# tests/conformance/suite.cmake — included by tests/CMakeLists.txt.
#
#   onnxcc-conformance   compiles and runs every ONNX node test (ctest
#                        "conformance"); see tests/conformance/conformance.c
#   onnxcc_fake_model*   hand-written model libraries exporting the
#                        descriptor ABI, for testing onnxcc-run alone
# The runtime unit tests link the runtime library, which onnxcc_core does
# not contain.

set(CONF_DIR ${CMAKE_CURRENT_LIST_DIR})

if(EXISTS ${CONF_DIR}/conformance.c)
  add_executable(onnxcc-conformance ${CONF_DIR}/conformance.c ${CONF_DIR}/child.c
    ${CONF_DIR}/selftest.c)
  target_link_libraries(onnxcc-conformance PRIVATE onnxcc_core onnxcc_runtime ${CMAKE_DL_LIBS})
  target_include_directories(onnxcc-conformance PRIVATE ${CONF_DIR})
  target_compile_definitions(onnxcc-conformance PRIVATE
    ONNXCC_BINARY_DIR="${CMAKE_BINARY_DIR}"
    ONNXCC_NODE_TESTS="${CMAKE_SOURCE_DIR}/../shared/onnx-node-tests")
  set_target_properties(onnxcc-conformance PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  add_test(NAME conformance COMMAND onnxcc-conformance WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(conformance PROPERTIES TIMEOUT 1800)
endif()

foreach(v ok fail abi bad1 bad2)
  add_library(onnxcc_fake_model_${v} MODULE ${CONF_DIR}/fake_model.c)
  target_include_directories(onnxcc_fake_model_${v} PRIVATE ${CMAKE_SOURCE_DIR}/runtime)
  set_target_properties(onnxcc_fake_model_${v} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden)
endforeach()
target_compile_definitions(onnxcc_fake_model_fail PRIVATE FAKE_STATUS=ONNXCC_ERR_NULL)
target_compile_definitions(onnxcc_fake_model_abi PRIVATE FAKE_ABI=99)
target_compile_definitions(onnxcc_fake_model_bad1 PRIVATE FAKE_BAD=1)
target_compile_definitions(onnxcc_fake_model_bad2 PRIVATE FAKE_BAD=2)

if(TARGET test_runtime)
  target_link_libraries(test_runtime PRIVATE onnxcc_runtime)
endif()
if(TARGET test_cli_run)
  target_link_libraries(test_cli_run PRIVATE onnxcc_runtime)
  add_dependencies(test_cli_run onnxcc-run onnxcc_fake_model_ok onnxcc_fake_model_fail
    onnxcc_fake_model_abi onnxcc_fake_model_bad1 onnxcc_fake_model_bad2)
  target_compile_definitions(test_cli_run PRIVATE
    ONNXCC_RUN="$<TARGET_FILE:onnxcc-run>"
    FAKE_MODEL_OK="$<TARGET_FILE:onnxcc_fake_model_ok>"
    FAKE_MODEL_FAIL="$<TARGET_FILE:onnxcc_fake_model_fail>"
    FAKE_MODEL_ABI="$<TARGET_FILE:onnxcc_fake_model_abi>"
    FAKE_MODEL_BAD1="$<TARGET_FILE:onnxcc_fake_model_bad1>"
    FAKE_MODEL_BAD2="$<TARGET_FILE:onnxcc_fake_model_bad2>")
endif()

# The runner's own checks: crashes, hangs and wrong answers are classified
# as CRASH, TIMEOUT and FAIL (needs test_transpose_default to compile).
if(TARGET onnxcc-conformance)
  add_test(NAME conformance_selftest COMMAND onnxcc-conformance --self-test
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(conformance_selftest PROPERTIES TIMEOUT 300)
endif()
