# cmake/toolchain-arm-linux-gnueabihf.cmake — cross-compiling for 32-bit ARM
# Linux, hard-float (Debian armhf), with Debian's cross gcc
# (apt-get install gcc-arm-linux-gnueabihf):
#   cmake -S . -B build-armhf -DONNXCC_RUNTIME_ONLY=ON \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm-linux-gnueabihf.cmake
# Models for it: onnxcc model.onnx --target arm-linux-gnueabihf -o model.so
# (ARMv7-A with NEON and VFPv4 by default; --cpu cortex-a9 or
# --features -neon for cores without them).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(ONNXCC_TARGET_TRIPLE arm-linux-gnueabihf)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf)
