# The audit log's durability cost: appends per second with group commit (one fdatasync per
# batch) against one fdatasync per record, at 1..8 concurrent appenders.
add_executable(audit_bench ${CMAKE_CURRENT_LIST_DIR}/audit_bench.cpp)
target_link_libraries(audit_bench PRIVATE kc_audit kc_test_support kc_bench_support)
kc_warnings(audit_bench)
if(KC_BUILD_TESTS)
  # Keeps the harness from rotting: one very short run, no figures asserted.
  add_test(NAME bench_audit_smoke COMMAND audit_bench --benchmark_min_time=0.01)
  set_tests_properties(bench_audit_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
