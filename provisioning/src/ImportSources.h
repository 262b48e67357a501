#pragma once
// Which reference Key Connector deployment `kc-setup import-bitwarden` reads: each part from its
// flag when given, else from the reference's own keyConnectorSettings__* variables, so the
// command can run inside the old deployment's environment. Secrets (connection strings,
// passwords, PINs) are only ever read from files or the environment, and no message quotes one.
//
//   data:  --source-sqlite FILE | --source-json FILE | --source-postgresql-file FILE |
//          --source-mysql-file FILE
//          else database__provider with database__sqliteConnectionString,
//          __postgreSqlConnectionString, __mySqlConnectionString or __jsonFilePath
//   key:   --source-pfx FILE [--source-pfx-password-file FILE] | --source-pem FILE
//          [--source-pem-password-file FILE] | --source-pkcs11-key URI [--source-pkcs11-module
//          PATH] [--source-pin-file FILE | --source-pin-env VAR]
//          else rsaKey__provider=pkcs11 (pkcs11LibraryPath or pkcs11Provider,
//          pkcs11SlotTokenSerialNumber, pkcs11PrivateKeyId or pkcs11PrivateKeyLabel,
//          pkcs11LoginPin), or certificate__provider=filesystem (filesystemPath,
//          filesystemPassword)

#include <string>

#include "kc/Result.h"
#include "kc/appliance/Config.h"
#include "kc/cli/CommandLine.h"
#include "kc/provisioning/BitwardenImport.h"

namespace kc::setup {

struct ImportSource {
  provisioning::ReferenceSource data;
  std::string dataOrigin;  // "--source-sqlite", "environment variable keyConnectorSettings__..."
  provisioning::ReferenceKeySource key;
  std::string keyOrigin;
};

// The flags of the source, each with the variable it falls back to in its help.
std::vector<cli::FlagSpec> importSourceFlags();

// Resolves the source from `flags` and `environment`. INVALID_ARGUMENT naming the flag or
// variable at fault: two data sources or two keys given, none found, a provider of the
// reference's that cannot be imported from (sqlserver, mongo, cloud KMS, certificate stores
// other than a file), a file that cannot be read. Never quotes a secret.
Result<ImportSource> resolveImportSource(const cli::ParsedFlags& flags,
                                         const appliance::Environment& environment);

}  // namespace kc::setup
