# The key service end to end in-process: a fetch with and without the audit log, against
# the token's raw RSA-OAEP decrypt rate measured in the same run.
add_executable(keyservice_bench ${CMAKE_CURRENT_LIST_DIR}/keyservice_bench.cpp)
target_link_libraries(keyservice_bench PRIVATE kc_appliance kc_audit kc_storage kc_pkcs11
  kc_test_support kc_bench_support)
kc_warnings(keyservice_bench)
if(KC_BUILD_TESTS)
  add_test(NAME bench_keyservice_smoke COMMAND keyservice_bench --benchmark_min_time=0.01 --smoke)
  set_tests_properties(bench_keyservice_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
