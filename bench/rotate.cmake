# Rewrapping under a rotation (kc-setup rotate rewrap's engine, audited, SQLite) against the
# token's raw RSA-OAEP decrypt + encrypt rate measured in the same run.
add_executable(rotate_bench ${CMAKE_CURRENT_LIST_DIR}/rotate_bench.cpp)
target_link_libraries(rotate_bench PRIVATE kc_setup_cli kc_appliance kc_audit kc_storage kc_pkcs11
  kc_test_support kc_bench_support)
kc_warnings(rotate_bench)
if(KC_BUILD_TESTS)
  add_test(NAME bench_rotate_smoke COMMAND rotate_bench --benchmark_min_time=0.01 --smoke)
  set_tests_properties(bench_rotate_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
