# keyconnectord over HTTP: GET /user-keys requests per second through the real daemon (JWT
# check, store read, token unwrap, audit records durable) against the token's raw RSA-OAEP
# decrypt rate measured in the same run.
add_executable(daemon_bench ${CMAKE_CURRENT_LIST_DIR}/daemon_bench.cpp)
target_link_libraries(daemon_bench PRIVATE kc_daemon_fixture kc_bench_support
  Poco::Net Poco::Foundation)
kc_warnings(daemon_bench)
if(KC_BUILD_TESTS)
  add_test(NAME bench_daemon_smoke COMMAND daemon_bench --benchmark_min_time=0.01)
  set_tests_properties(bench_daemon_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
