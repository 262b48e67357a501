# bench/run's helpers: fills a store with valid envelopes, the token's raw rate with one
# session per thread, the naive release path (module, session and login per operation) and the
# durable-write bound (fdatasync'd appends/s).
add_executable(release_bench ${CMAKE_CURRENT_LIST_DIR}/release_bench.cpp)
target_link_libraries(release_bench PRIVATE kc_appliance kc_storage kc_pkcs11 kc_setup_cli
  OpenSSL::Crypto ${CMAKE_DL_LIBS})
kc_warnings(release_bench)
if(KC_BUILD_TESTS)
  # Keeps bench/run from rotting: 100 records, one key size, one connection, 2 s a figure, and
  # the paced GET, the /alive ceiling and the fsync bound once each.
  add_test(NAME bench_run_smoke COMMAND ${PROJECT_SOURCE_DIR}/bench/run --smoke)
  set_tests_properties(bench_run_smoke PROPERTIES TIMEOUT 120 LABELS bench
    ENVIRONMENT "KC_BENCH_BUILD_DIR=${PROJECT_BINARY_DIR};KC_BENCH_NO_BUILD=1")
endif()
