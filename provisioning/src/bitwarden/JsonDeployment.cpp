// The reference's JSON file store (JsonFlatFileDataStore), and the entry points that pick a
// source and open its symmetric key.

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "ReferenceInternal.h"
#include "kc/Base64.h"
#include "kc/Text.h"

namespace kc::provisioning {
namespace {

// The reference holds the whole file in memory too; this bounds what we read (about eight
// million users).
constexpr std::uintmax_t kMaxJsonFileBytes = std::uintmax_t{2} * 1024 * 1024 * 1024;

Status invalid(std::string_view fileName, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "the JSON file " + std::string(fileName) + " " + why);
}

// A member that must be a string, null or absent. `value` is set for a string.
Status optionalString(const Poco::JSON::Object& object, const std::string& name,
                      std::optional<std::string>& value) {
  if (!object.has(name)) return Status::ok();
  const Poco::Dynamic::Var member = object.get(name);
  if (member.isEmpty()) return Status::ok();
  if (!member.isString()) return Status(StatusCode::kInvalidArgument, name + " is not a string");
  value = member.extract<std::string>();
  return Status::ok();
}

class JsonDeployment final : public ReferenceDeployment {
 public:
  JsonDeployment(std::string description, ReferenceJsonContents contents)
      : description_(std::move(description)), contents_(std::move(contents)) {}

  const std::string& describe() const override { return description_; }

  Result<std::string> wrappedSymmetricKey() override {
    if (!contents_.symmetricKey || contents_.symmetricKey->empty()) {
      return Status(StatusCode::kNotFound, "the " + description_ + " holds no symmetricKey");
    }
    return *contents_.symmetricKey;
  }

  Result<std::uint64_t> countUserKeys() override { return contents_.rows.size(); }

  Result<std::vector<ReferenceUserKeyRow>> readUserKeys(std::string_view after,
                                                        std::size_t limit) override {
    if (limit == 0 || limit > kMaxReferencePageRows) {
      return Status(StatusCode::kInvalidArgument,
                    "a page holds 1.." + std::to_string(kMaxReferencePageRows) + " rows");
    }
    const auto& rows = contents_.rows;
    auto it = after.empty() ? rows.begin()
                            : std::upper_bound(rows.begin(), rows.end(), after,
                                               [](std::string_view id, const auto& row) {
                                                 return id < std::string_view(row.id);
                                               });
    std::vector<ReferenceUserKeyRow> page;
    for (; it != rows.end() && page.size() < limit; ++it) {
      page.push_back(
          {it->id, it->key, it->creationDate, it->revisionDate, it->lastAccessDate, it->problem});
    }
    return page;
  }

 private:
  std::string description_;
  ReferenceJsonContents contents_;
};

}  // namespace

Result<ReferenceJsonContents> parseReferenceJson(std::string_view text, std::string_view fileName) {
  Poco::Dynamic::Var root;
  try {
    Poco::JSON::Parser parser;
    root = parser.parse(std::string(text));
  } catch (const Poco::Exception&) {
    // The parser's message may quote the file's bytes; say only where the problem is.
    return invalid(fileName, "is not valid JSON");
  }
  if (root.type() != typeid(Poco::JSON::Object::Ptr)) {
    return invalid(fileName, "is not a JSON object");
  }
  const auto object = root.extract<Poco::JSON::Object::Ptr>();
  ReferenceJsonContents out;
  if (Status status = optionalString(*object, "symmetricKey", out.symmetricKey); !status.isOk()) {
    return invalid(fileName, "member " + status.message());
  }
  if (!object->has("userKey") || object->get("userKey").isEmpty()) return out;
  const auto entries = object->getArray("userKey");
  if (!entries) return invalid(fileName, "member userKey is not an array");

  const std::string where = "JSON file " + std::string(fileName) + " userKey";
  std::unordered_map<std::string, std::size_t> seen;  // lower-case id → entry index
  out.rows.reserve(entries->size());
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string entryName = "userKey[" + std::to_string(i) + "]";
    const auto entry = entries->getObject(static_cast<unsigned int>(i));
    if (!entry) return invalid(fileName, entryName + " is not an object");
    std::optional<std::string> id;
    if (Status status = optionalString(*entry, "id", id); !status.isOk() || !id || id->empty()) {
      return invalid(fileName, entryName + " has no id string");
    }
    const auto [previous, fresh] = seen.emplace(toLower(*id), i);
    if (!fresh) {
      return invalid(fileName, entryName + " repeats the id of userKey[" +
                                   std::to_string(previous->second) +
                                   "] (the reference reads only the first)");
    }
    std::optional<std::string> key, created, revised, accessed;
    const Status types[] = {optionalString(*entry, "key", key),
                            optionalString(*entry, "creationDate", created),
                            optionalString(*entry, "revisionDate", revised),
                            optionalString(*entry, "lastAccessDate", accessed)};
    ReferenceUserKeyRow row = makeReferenceRow(where, *id, key.value_or(""), created.value_or(""),
                                               revised.value_or(""), accessed.value_or(""));
    for (const Status& type : types) {
      if (!type.isOk()) {
        row.problem =
            Status(StatusCode::kInvalidArgument, where + " row " + row.id + ": " + type.message());
        break;
      }
    }
    out.rows.push_back(std::move(row));
  }
  std::sort(out.rows.begin(), out.rows.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Result<std::unique_ptr<ReferenceDeployment>> openJsonDeployment(const ReferenceSource& source) {
  const std::string& path = source.location;
  const std::string description = "JSON file " + path;
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return Status(StatusCode::kNotFound, "the " + description + " does not exist");
  }
  const auto size = std::filesystem::file_size(path, error);
  if (error || size > kMaxJsonFileBytes) {
    return Status(StatusCode::kInvalidArgument, "the " + description + " is too large to read");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text;
  text.reserve(static_cast<std::size_t>(size));
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return Status(StatusCode::kUnavailable, "cannot read the " + description);
  }
  auto contents = parseReferenceJson(text, path);
  if (!contents) return contents.status();
  return std::unique_ptr<ReferenceDeployment>(
      std::make_unique<JsonDeployment>(description, std::move(*contents)));
}

Result<std::unique_ptr<ReferenceDeployment>> ReferenceDeployment::open(
    const ReferenceSource& source) {
  if (source.kind == ReferenceSource::Kind::kJsonFile) return openJsonDeployment(source);
  return openSqlDeployment(source);
}

Result<SecretBytes> openSymmetricKey(ReferenceDeployment& deployment, const ReferenceKey& key) {
  auto wrapped = deployment.wrappedSymmetricKey();
  if (!wrapped) return wrapped.status();
  auto bytes = decodeBase64Secret(trimView(*wrapped));
  if (!bytes) {
    return Status(StatusCode::kIntegrity,
                  "the symmetric key in the " + deployment.describe() + " is not base64");
  }
  auto aesKey = key.decryptOaepSha1(bytes->view());
  if (!aesKey) {
    if (aesKey.status().code() != StatusCode::kIntegrity) return aesKey.status();
    return Status(StatusCode::kIntegrity, "the " + key.describe() +
                                              " does not open the symmetric key in the " +
                                              deployment.describe() + " (another RSA key?)");
  }
  if (aesKey->size() != kReferenceAesKeyBytes) {
    return Status(StatusCode::kIntegrity, "the symmetric key in the " + deployment.describe() +
                                              " is " + std::to_string(aesKey->size()) +
                                              " bytes, not 32");
  }
  return aesKey;
}

}  // namespace kc::provisioning
