# keyconnectord over HTTP: GET /user-keys requests per second through the real daemon (JWT
# check, store read, token unwrap, audit records durable) against the token's raw RSA-OAEP
# decrypt rate measured in the same run.
add_executable(daemon_bench ${CMAKE_CURRENT_LIST_DIR}/daemon_bench.cpp
  ${PROJECT_SOURCE_DIR}/tests/e2e/DaemonFixture.cpp)
target_include_directories(daemon_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/e2e)
target_link_libraries(daemon_bench PRIVATE kc_pkcs11 kc_setup_cli kc_test_support kc_bench_support
  Poco::Net Poco::Foundation)
target_compile_definitions(daemon_bench PRIVATE KC_DAEMON_PATH="$<TARGET_FILE:keyconnectord>")
add_dependencies(daemon_bench keyconnectord)
kc_warnings(daemon_bench)
if(KC_BUILD_TESTS)
  add_test(NAME bench_daemon_smoke COMMAND daemon_bench --benchmark_min_time=0.01)
  set_tests_properties(bench_daemon_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
