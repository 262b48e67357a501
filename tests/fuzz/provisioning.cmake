# kc-setup's reader of a reference Key Connector deployment: its JSON file, its Key column and
# its dates come from a deployment the importer does not control.
if(TARGET kc_bitwarden)
  kc_add_fuzzer(bitwarden_reference_fuzzer SOURCES bitwarden_reference_fuzzer.cpp LIBS kc_bitwarden)
endif()
# ... and its RSA key: a PKCS#12/PFX or PEM file handed to the importer, parsed by OpenSSL.
if(TARGET kc_bitwarden)
  kc_add_fuzzer(reference_key_fuzzer SOURCES reference_key_fuzzer.cpp LIBS kc_bitwarden)
endif()
