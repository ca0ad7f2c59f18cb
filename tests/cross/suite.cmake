# tests/cross/suite.cmake — cross targets (included by tests/CMakeLists.txt).
# Every zoo model (each tests/models/*/manifest.txt, as in
# tests/models/suite.cmake) on three targets, one ctest per target and
# model so that `ctest -j` spreads them (tests/cross/cross.sh):
#   cross_aarch64_<model>, cross_armv7_<model>: compiled to a .so for
#     aarch64-linux-gnu / arm-linux-gnueabihf (default CPU and optimisation
#     level), run under qemu-aarch64 / qemu-arm by a cross-built onnxcc-run;
#   cross_x86_64-nehalem_<model>: the default x86-64 build run under
#     qemu-x86_64 -cpu Nehalem (no AVX); the .so e2e_<model> built when it
#     is there (the same build; DEPENDS orders them), else compiled;
#   each compared with PyTorch's outputs (tests/models/<model>/outputs).
# cross_<arch>_setup builds that onnxcc-run once (a ctest fixture of the
# model tests).  cross_x86_64-nehalem_cpu_checks: a --cpu native build must
# die on Nehalem (AVX2 host), the default build takes its AVX2+FMA versions
# under -cpu Haswell.  cross_cortex_m7: the demo model as a bare-metal
# thumbv7em-none-eabihf object, checked (ELF machine, float ABI, undefined
# symbols, size limit), linked with a minimal start-up and run under
# qemu-system-arm -M mps2-an500 (Cortex-M7), compared with PyTorch
# (tests/cross/cortex_m.sh).  Without the cross tools (scripts/setup.sh
# installs them) each prints a SKIP line and is reported as skipped.
set(CROSS_DIR ${CMAKE_CURRENT_LIST_DIR})
file(GLOB CROSS_MANIFESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../models/*/manifest.txt)
foreach(arch aarch64 armv7 x86_64-nehalem)
  add_test(NAME cross_${arch}_setup
    COMMAND sh ${CROSS_DIR}/cross.sh ${CMAKE_BINARY_DIR} ${arch} setup)
  set_tests_properties(cross_${arch}_setup PROPERTIES LABELS cross TIMEOUT 600
    SKIP_RETURN_CODE 77 FIXTURES_SETUP cross_rt_${arch})
  foreach(manifest ${CROSS_MANIFESTS})
    get_filename_component(mdir ${manifest} DIRECTORY)
    get_filename_component(mname ${mdir} NAME)
    add_test(NAME cross_${arch}_${mname}
      COMMAND sh ${CROSS_DIR}/cross.sh ${CMAKE_BINARY_DIR} ${arch} ${mname})
    set_tests_properties(cross_${arch}_${mname} PROPERTIES LABELS cross TIMEOUT 900
      SKIP_RETURN_CODE 77 FIXTURES_REQUIRED cross_rt_${arch})
    if(arch STREQUAL "x86_64-nehalem")
      # Reuses e2e_<model>'s .so (the same default build) when it is there.
      set_tests_properties(cross_${arch}_${mname} PROPERTIES DEPENDS e2e_${mname})
    endif()
  endforeach()
endforeach()
add_test(NAME cross_x86_64-nehalem_cpu_checks
  COMMAND sh ${CROSS_DIR}/cross.sh ${CMAKE_BINARY_DIR} x86_64-nehalem cpu-checks encoder_opset14)
set_tests_properties(cross_x86_64-nehalem_cpu_checks PROPERTIES LABELS cross TIMEOUT 900
  SKIP_RETURN_CODE 77 FIXTURES_REQUIRED cross_rt_x86_64-nehalem DEPENDS e2e_encoder_opset14)
add_test(NAME cross_cortex_m7 COMMAND sh ${CROSS_DIR}/cortex_m.sh ${CMAKE_BINARY_DIR})
set_tests_properties(cross_cortex_m7 PROPERTIES LABELS cross TIMEOUT 600 SKIP_RETURN_CODE 77)
