# pkcs11.tokens: decrypt throughput on one token and on a two-token cluster, as ratios of one
# token's raw C_Decrypt rate, with the cluster's per-token split.
add_executable(cluster_bench ${CMAKE_CURRENT_LIST_DIR}/cluster_bench.cpp)
target_link_libraries(cluster_bench PRIVATE kc_pkcs11 kc_test_support kc_bench_support)
kc_warnings(cluster_bench)
if(KC_BUILD_TESTS)
  # Keeps the harness from rotting: one very short run, no figures asserted.
  add_test(NAME bench_cluster_smoke COMMAND cluster_bench --benchmark_min_time=0.01 --smoke)
  set_tests_properties(bench_cluster_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
