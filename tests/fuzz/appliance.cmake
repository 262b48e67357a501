# The appliance's parsers of untrusted bytes: stored envelopes, the properties file, and the
# reference Key Connector's connection strings.
if(TARGET kc_appliance)
  kc_add_fuzzer(envelope_fuzzer SOURCES envelope_fuzzer.cpp LIBS kc_appliance)
  kc_add_fuzzer(config_fuzzer SOURCES config_fuzzer.cpp LIBS kc_appliance)
  kc_add_fuzzer(connection_string_fuzzer SOURCES connection_string_fuzzer.cpp LIBS kc_appliance)
endif()
