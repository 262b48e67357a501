#include "kc/pkcs11/KeyPolicy.h"

namespace kc::pkcs11 {

std::string_view keyPurposeName(KeyPurpose purpose) {
  return purpose == KeyPurpose::kWrap ? "wrap" : "audit";
}

PolicyReport checkKeyPolicy(const KeyAttributes& key, KeyPurpose purpose) {
  PolicyReport report;
  auto refuse = [&](std::string why) { report.violations.push_back(std::move(why)); };

  if (key.extractable) refuse("private key is extractable (CKA_EXTRACTABLE=true)");
  if (!key.sensitive) refuse("private key is not sensitive (CKA_SENSITIVE=false)");
  if (!key.isPrivate) refuse("private key is readable without login (CKA_PRIVATE=false)");
  if (!key.onToken) refuse("private key is a session object, lost at logout (CKA_TOKEN=false)");
  if (key.modulusBits < 2048) {
    refuse("RSA modulus of " + std::to_string(key.modulusBits) + " bits is below 2048");
  }
  // A key generated extractable can be copied out and then have the flag cleared: only
  // these two attributes, which the token never sets back to true, show that it happened.
  if (!key.alwaysSensitive) {
    refuse(
        "private key was not always sensitive (CKA_ALWAYS_SENSITIVE=false): it may have "
        "existed in clear outside the token");
  }
  if (!key.neverExtractable) {
    refuse(
        "private key was once extractable (CKA_NEVER_EXTRACTABLE=false): a copy may exist "
        "outside the token");
  }
  if (key.derive) refuse("private key can derive (CKA_DERIVE=true)");

  if (purpose == KeyPurpose::kWrap) {
    if (!key.decrypt && !key.unwrap) refuse("wrapping key can neither decrypt nor unwrap");
    if (!key.publicEncrypt) refuse("wrapping key's public half cannot encrypt (CKA_ENCRYPT=false)");
    if (key.sign || key.signRecover) {
      refuse("wrapping key can sign (CKA_SIGN=true): a wrapping key must never sign");
    }
  } else {
    if (!key.sign) refuse("audit key cannot sign (CKA_SIGN=false)");
    if (key.decrypt || key.unwrap) {
      refuse("audit key can decrypt or unwrap: an audit key must only sign");
    }
    if (key.publicEncrypt || key.publicWrap) {
      refuse("audit key's public half can encrypt or wrap: an audit key must only sign");
    }
  }
  return report;
}

Status enforceKeyPolicy(const KeyAttributes& key, KeyPurpose purpose) {
  const PolicyReport report = checkKeyPolicy(key, purpose);
  if (report.compliant()) return Status::ok();
  std::string message =
      std::string(keyPurposeName(purpose)) + " key '" + key.label + "' breaks the key policy: ";
  for (std::size_t i = 0; i < report.violations.size(); ++i) {
    if (i > 0) message += "; ";
    message += report.violations[i];
  }
  return Status(StatusCode::kPolicyViolation, message);
}

}  // namespace kc::pkcs11
