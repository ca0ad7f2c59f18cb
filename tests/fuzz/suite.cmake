# tests/fuzz/suite.cmake — included by tests/CMakeLists.txt.
#   fuzz_frontend, fuzz_npy   libFuzzer targets, built only with
#                             -DONNXCC_FUZZ=ON and clang (make fuzz)
if(ONNXCC_FUZZ)
  add_executable(fuzz_frontend ${CMAKE_CURRENT_LIST_DIR}/fuzz_frontend.c)
  target_link_libraries(fuzz_frontend PRIVATE onnxcc_core)
  target_link_options(fuzz_frontend PRIVATE -fsanitize=fuzzer)
  add_executable(fuzz_npy ${CMAKE_CURRENT_LIST_DIR}/fuzz_npy.c)
  target_link_libraries(fuzz_npy PRIVATE onnxcc_runtime)
  target_link_options(fuzz_npy PRIVATE -fsanitize=fuzzer)
  set_target_properties(fuzz_frontend fuzz_npy PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endif()
