# kc-setup's reader of a reference Key Connector deployment: its JSON file, its Key column and
# its dates come from a deployment the importer does not control.
if(TARGET kc_bitwarden)
  kc_add_fuzzer(bitwarden_reference_fuzzer SOURCES bitwarden_reference_fuzzer.cpp LIBS kc_bitwarden)
endif()
