# The audit log's verifier reads untrusted bytes: every line of every file given to
# kc-audit. The fuzzer parses and verifies its input as a log file.
kc_add_fuzzer(audit_log_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_log_fuzzer.cpp LIBS kc_audit)
