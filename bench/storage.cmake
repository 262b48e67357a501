# The user-key store's throughput: get and upsert operations per second per back-end at 1k and
# 1M records, against the same throwaway servers the storage tests start.
add_executable(storage_bench ${CMAKE_CURRENT_LIST_DIR}/storage_bench.cpp
  ${CMAKE_SOURCE_DIR}/tests/storage/StoreTargets.cpp)
target_include_directories(storage_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests/storage)
target_link_libraries(storage_bench PRIVATE kc_storage kc_test_support benchmark::benchmark
  Poco::DataSQLite Poco::DataPostgreSQL Poco::DataMySQL Poco::DataODBC Poco::Data Poco::Foundation)
kc_warnings(storage_bench)
if(KC_BUILD_TESTS)
  # Keeps the harness from rotting: 1k records only, very short runs, no figures asserted.
  add_test(NAME bench_storage_smoke COMMAND storage_bench --smoke --benchmark_min_time=0.01)
  set_tests_properties(bench_storage_smoke PROPERTIES TIMEOUT 300 LABELS "bench;storage")
endif()
