# Integration tests: a real mpbroker per test program, real client
# processes (mpb_testclient) started with fork+exec.
add_library(mpb_harness STATIC harness.c)
target_link_libraries(mpb_harness PUBLIC mpb_static)

add_executable(mpb_testclient testclient.c)
set_target_properties(mpb_testclient PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${MPB_TEST_BIN})
target_link_libraries(mpb_testclient PRIVATE mpb_static nng::nng msgpackc)

# Every integration test needs the broker, the CLI and the test client.
function(mpb_it_test name)
  mpb_test(${name} ${ARGN} LIBS mpb_harness nng::nng msgpackc Threads::Threads TIMEOUT 300)
  add_dependencies(${name} mpbroker mpb_cli mpb_testclient)
endfunction()

mpb_it_test(test_queue_it test_queue_it.c)
mpb_it_test(test_faults_it test_faults_it.c)
mpb_it_test(test_cli_it test_cli_it.c)
mpb_it_test(test_security_it test_security_it.c)
