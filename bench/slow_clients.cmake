# Slow clients beside legitimate ones: GET /user-keys p50/p99 through keyconnectord alone and
# beside 500 connections trickling their request heads (the front end's head deadline).
add_executable(slow_clients_bench ${CMAKE_CURRENT_LIST_DIR}/slow_clients_bench.cpp)
target_link_libraries(slow_clients_bench PRIVATE kc_daemon_fixture
  Poco::Net Poco::NetSSL Poco::Foundation)
kc_warnings(slow_clients_bench)
