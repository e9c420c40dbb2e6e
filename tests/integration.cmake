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
mpb_it_test(test_async_it test_async_it.c)
mpb_it_test(test_cli_it test_cli_it.c)
mpb_it_test(test_security_it test_security_it.c)
mpb_it_test(test_durable_it test_durable_it.c)
mpb_it_test(test_batch_it test_batch_it.c)

# Dicts and lists: dictclient races incr and compare-and-set.
add_executable(mpb_dictclient dictclient.c)
set_target_properties(mpb_dictclient PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${MPB_TEST_BIN})
target_link_libraries(mpb_dictclient PRIVATE mpb_static nng::nng msgpackc)
mpb_it_test(test_dict_it test_dict_it.c)
add_dependencies(test_dict_it mpb_dictclient)
# test_durable_it kills the broker under dictclient's increments.
add_dependencies(test_durable_it mpb_dictclient)
mpb_it_test(test_list_it test_list_it.c)
mpb_it_test(test_lease_it test_lease_it.c)

# Synchronisation objects: their own client process, syncclient.
add_executable(mpb_syncclient syncclient.c)
set_target_properties(mpb_syncclient PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${MPB_TEST_BIN})
target_link_libraries(mpb_syncclient PRIVATE mpb_static nng::nng msgpackc)
mpb_it_test(test_sync_it test_sync_it.c)
add_dependencies(test_sync_it mpb_syncclient)

# The example programs (examples/), run against a private broker.
if(MPB_BUILD_EXAMPLES)
  mpb_it_test(test_examples_it test_examples_it.c)
  add_dependencies(test_examples_it ${MPB_EXAMPLE_TARGETS})
  set_property(TEST test_examples_it APPEND PROPERTY
    ENVIRONMENT "MPB_TEST_EXAMPLES=${CMAKE_BINARY_DIR}/bin")
endif()
