// The reference Key Connector's JSON file, Key column and dates are read from a deployment the
// importer does not control: each parser must refuse anything malformed by code, never crash,
// and whatever opens must be well-formed. The first byte picks the parser, the rest is its input.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kc/provisioning/BitwardenImport.h"

namespace {

bool isRowProblemCode(kc::StatusCode code) {
  return code == kc::StatusCode::kOk || code == kc::StatusCode::kInvalidArgument;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kc::provisioning;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto contents = parseReferenceJson(text, "fuzz.json");
      if (!contents) {
        if (contents.status().code() != kc::StatusCode::kInvalidArgument) std::abort();
        return 0;
      }
      for (std::size_t i = 0; i < contents->rows.size(); ++i) {
        const auto& row = contents->rows[i];
        if (!isRowProblemCode(row.problem.code())) std::abort();
        if (row.problem.isOk() && (!row.creationDate || row.key.empty())) std::abort();
        if (i > 0 && contents->rows[i - 1].id > row.id) std::abort();  // sorted by id
      }
      return 0;
    }
    case 1: {
      // The seeds are sealed under the key 00 01 02 .. 1f, so mutations reach the tag check.
      kc::SecretBytes key(kReferenceAesKeyBytes);
      for (std::size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<std::uint8_t>(i);
      auto plain = decryptReferenceUserKey(key, text);
      if (plain) {
        const std::size_t overhead = kReferenceGcmTagBytes + kReferenceGcmNonceBytes;
        if (plain->empty() || plain->size() + overhead > text.size()) std::abort();
      } else if (plain.status().code() != kc::StatusCode::kInvalidArgument &&
                 plain.status().code() != kc::StatusCode::kIntegrity) {
        std::abort();
      }
      return 0;
    }
    default: {
      auto date = parseReferenceDate(text);
      if (!date && date.status().code() != kc::StatusCode::kInvalidArgument) std::abort();
      return 0;
    }
  }
}
