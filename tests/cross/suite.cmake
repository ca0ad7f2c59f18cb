# tests/cross/suite.cmake — cross targets (included by tests/CMakeLists.txt).
# cross_aarch64 / cross_armv7: zoo models compiled to .so for the target,
# run under qemu-user with a cross-built onnxcc-run, compared with PyTorch's
# outputs (tests/cross/cross.sh); cross_x86_64-nehalem: default x86-64
# builds run under qemu-x86_64 -cpu Nehalem (no AVX); cross_cortex_m7: a bare-metal object
# checked for machine, float ABI and undefined symbols (cortex_m.sh).
# Without the cross tools (scripts/setup.sh installs them) each prints a
# SKIP line and is reported as skipped.
set(CROSS_DIR ${CMAKE_CURRENT_LIST_DIR})
foreach(arch aarch64 armv7 x86_64-nehalem)
  add_test(NAME cross_${arch}
    COMMAND sh ${CROSS_DIR}/cross.sh ${CMAKE_BINARY_DIR} ${arch}
            encoder_opset14 txl_opset16_b1 swin_opset14)
  set_tests_properties(cross_${arch} PROPERTIES LABELS cross TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()
add_test(NAME cross_cortex_m7 COMMAND sh ${CROSS_DIR}/cortex_m.sh ${CMAKE_BINARY_DIR})
set_tests_properties(cross_cortex_m7 PROPERTIES LABELS cross TIMEOUT 600 SKIP_RETURN_CODE 77)
