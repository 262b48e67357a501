#include "UserKeyBody.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Handler.h>
#include <Poco/JSON/Parser.h>
#include <string.h>  // explicit_bzero

#include "kc/Base64.h"
#include "kc/Text.h"

namespace kc::api {
namespace {

// Streams the parse and keeps only the top-level `key` string, so the key's text exists in
// one buffer we own and wipe (Poco's own scratch copies are freed without wiping; that is
// the residue of using the shared JSON library).
class KeyCapture : public Poco::JSON::Handler {
 public:
  ~KeyCapture() override { wipe(); }

  void wipe() {
    if (!key_.empty()) explicit_bzero(key_.data(), key_.size());
    key_.clear();
  }
  bool rootIsObject() const { return rootIsObject_; }
  int keyProperties() const { return keyProperties_; }
  bool keyIsString() const { return keyIsString_; }
  const std::string& key() const { return key_; }

  void reset() override {}
  void startObject() override {
    if (depth_ == 0) rootIsObject_ = true;
    nonString();
    ++depth_;
  }
  void endObject() override { --depth_; }
  void startArray() override {
    nonString();
    ++depth_;
  }
  void endArray() override { --depth_; }
  void key(const std::string& name) override {
    expectingKey_ = depth_ == 1 && toLower(name) == "key";
    if (expectingKey_) ++keyProperties_;
  }
  void null() override { nonString(); }
  void value(int) override { nonString(); }
  void value(unsigned) override { nonString(); }
  void value(Poco::Int64) override { nonString(); }
  void value(Poco::UInt64) override { nonString(); }
  void value(double) override { nonString(); }
  void value(bool) override { nonString(); }
  void value(const std::string& text) override {
    if (expectingKey_) {
      wipe();
      key_ = text;
      keyIsString_ = true;
    }
    expectingKey_ = false;
  }

 private:
  void nonString() {
    if (expectingKey_) keyIsString_ = false;
    expectingKey_ = false;
  }

  int depth_ = 0;
  bool rootIsObject_ = false;
  bool expectingKey_ = false;
  int keyProperties_ = 0;
  bool keyIsString_ = false;
  std::string key_;
};

Status invalid(std::string reason) {
  return Status(StatusCode::kInvalidArgument, std::move(reason));
}

}  // namespace

bool isJsonContentType(std::string_view contentType) {
  const auto semicolon = contentType.find(';');
  if (toLower(trimView(contentType.substr(0, semicolon))) != "application/json") return false;
  if (semicolon == std::string_view::npos) return true;
  std::string_view rest = contentType.substr(semicolon + 1);
  while (true) {
    const auto next = rest.find(';');
    const auto parameter = trimView(rest.substr(0, next));
    if (!parameter.empty()) {
      const auto equals = parameter.find('=');
      if (equals == std::string_view::npos) return false;
      if (toLower(trimView(parameter.substr(0, equals))) != "charset") return false;
      auto value = trimView(parameter.substr(equals + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      const auto charset = toLower(value);
      if (charset != "utf-8" && charset != "utf8") return false;
    }
    if (next == std::string_view::npos) return true;
    rest.remove_prefix(next + 1);
  }
}

Result<SecretBytes> parseUserKeyBody(const std::string& body) {
  Poco::SharedPtr<KeyCapture> capture = Poco::makeShared<KeyCapture>();
  try {
    Poco::JSON::Parser parser(capture);
    parser.setDepth(32);
    parser.parse(body);  // no copy of our own: the caller wipes `body`
  } catch (const Poco::Exception&) {
    return invalid("The body is not valid JSON.");
  } catch (const std::exception&) {
    return invalid("The body is not valid JSON.");
  }
  if (!capture->rootIsObject()) return invalid("The body is not a JSON object.");
  if (capture->keyProperties() == 0) return invalid("The body has no key.");
  if (capture->keyProperties() > 1) return invalid("The body has more than one key.");
  if (!capture->keyIsString()) return invalid("The key is not a string.");
  auto key = decodeBase64Secret(capture->key());
  capture->wipe();
  if (!key) return invalid("The key is not valid base64.");
  if (key->size() < kMinUserKeyBytes || key->size() > kMaxUserKeyBytes) {
    return invalid("The key must be 16 to 512 bytes.");
  }
  return std::move(*key);
}

std::string renderUserKeyBody(const SecretBytes& key) {
  std::string encoded = encodeBase64(key.view());
  std::string out;
  out.reserve(encoded.size() + 12);
  out += "{\"key\":\"";
  out += encoded;
  out += "\"}";
  explicit_bzero(encoded.data(), encoded.size());
  return out;
}

}  // namespace kc::api
