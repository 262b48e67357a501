# Slow clients beside legitimate ones: GET /user-keys p50/p99 through keyconnectord alone and
# beside 500 connections trickling their request heads (the front end's head deadline).
add_executable(slow_clients_bench ${CMAKE_CURRENT_LIST_DIR}/slow_clients_bench.cpp
  ${PROJECT_SOURCE_DIR}/tests/e2e/DaemonFixture.cpp)
target_include_directories(slow_clients_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/e2e)
target_link_libraries(slow_clients_bench PRIVATE kc_pkcs11 kc_setup_cli kc_test_support
  Poco::Net Poco::NetSSL Poco::Foundation)
target_compile_definitions(slow_clients_bench PRIVATE KC_DAEMON_PATH="$<TARGET_FILE:keyconnectord>")
add_dependencies(slow_clients_bench keyconnectord)
kc_warnings(slow_clients_bench)
