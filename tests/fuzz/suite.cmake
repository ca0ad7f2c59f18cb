# tests/fuzz/suite.cmake — included by tests/CMakeLists.txt.
#   fuzz_frontend, fuzz_graph, fuzz_npy   libFuzzer targets, built only with
#                                         -DONNXCC_FUZZ=ON and clang-19
#                                         (tests/fuzz/run.sh: make fuzz, make test)
if(ONNXCC_FUZZ)
  add_executable(fuzz_frontend ${CMAKE_CURRENT_LIST_DIR}/fuzz_frontend.c)
  target_link_libraries(fuzz_frontend PRIVATE onnxcc_core)
  add_executable(fuzz_graph ${CMAKE_CURRENT_LIST_DIR}/fuzz_graph.c)
  target_link_libraries(fuzz_graph PRIVATE onnxcc_core)
  add_executable(fuzz_npy ${CMAKE_CURRENT_LIST_DIR}/fuzz_npy.c)
  target_link_libraries(fuzz_npy PRIVATE onnxcc_runtime)
  foreach(t fuzz_frontend fuzz_graph fuzz_npy)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  endforeach()
endif()
