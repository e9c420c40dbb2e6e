# The install test: cmake --install this build into a temporary prefix,
# then build a client program outside the tree against what was installed
# (find_package(mpb) and pkg-config, shared and static) and run it against
# the installed broker.  See external/run.sh.
#
# The programs are built with this tree's compiler and sanitizer flags:
# an instrumented libmpb.a only links into an instrumented program.
set(MPB_EXT_CFLAGS "")
if(MPB_SANITIZE)
  set(MPB_EXT_CFLAGS "-fsanitize=${MPB_SANITIZE} -fno-omit-frame-pointer")
endif()
add_test(NAME install
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/external/run.sh ${CMAKE_BINARY_DIR})
# RUN_SERIAL: the test first brings the installed targets up to date
# (cmake --build, a no-op after a full build), which must not relink
# mpbroker under the feet of a test running it.
set_tests_properties(install PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "MPB_EXT_CC=${CMAKE_C_COMPILER};MPB_EXT_CFLAGS=${MPB_EXT_CFLAGS};MPB_EXT_VERSION=${PROJECT_VERSION}")
