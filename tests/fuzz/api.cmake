# Fuzzers of the HTTP layer's parsers of untrusted input (api/): bearer tokens, request heads,
# the identity server's documents, the /user-keys body. They reach api/'s private headers on purpose.
if(TARGET kc_api)
  foreach(kc_api_fuzzer jwt_fuzzer jwks_fuzzer user_key_body_fuzzer request_head_fuzzer)
    kc_add_fuzzer(${kc_api_fuzzer}
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${kc_api_fuzzer}.cpp
      LIBS kc_api Poco::JSON Poco::Foundation OpenSSL::Crypto)
    target_include_directories(${kc_api_fuzzer} PRIVATE ${PROJECT_SOURCE_DIR}/api/src)
  endforeach()
endif()
