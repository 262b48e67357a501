# The token's raw throughput: RSA-OAEP decryptions per second through the session pool
# and through one session per thread calling C_Decrypt directly.
add_executable(token_bench ${CMAKE_CURRENT_LIST_DIR}/token_bench.cpp)
target_link_libraries(token_bench PRIVATE kc_pkcs11 kc_test_support kc_bench_support)
kc_warnings(token_bench)
if(KC_BUILD_TESTS)
  # Keeps the harness from rotting: one very short run, no figures asserted.
  add_test(NAME bench_token_smoke COMMAND token_bench --benchmark_min_time=0.01 --smoke)
  set_tests_properties(bench_token_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
