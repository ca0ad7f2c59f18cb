# tests/install/suite.cmake — `cmake --install` into a prefix, then the
# examples (embed, dlopen) built from that prefix outside the tree, once
# with find_package(onnxcc) + onnxcc_add_model() and once with pkg-config
# (tests/install/install.sh).
foreach(mode find_package pkg-config)
  add_test(NAME install_${mode}
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/install.sh ${CMAKE_BINARY_DIR} ${mode})
  set_tests_properties(install_${mode} PROPERTIES LABELS install TIMEOUT 900)
endforeach()
