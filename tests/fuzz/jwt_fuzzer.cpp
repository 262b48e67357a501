// Fuzzes bearer-token validation end to end (JwtValidator over a fixed one-key JWKS), and the
// claims checks on their own with the input as the claims JSON. The seeds in
// corpus/jwt_fuzzer were signed by the private half of the key below, so mutations start from
// tokens that verify.

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "Jwt.h"
#include "kc/UserId.h"
#include "kc/api/JwksCache.h"
#include "kc/api/JwtValidator.h"

namespace {

constexpr const char* kJwks =
    R"({"keys":[{"kty":"RSA","use":"sig","kid":"fuzz-key","alg":"RS256","n":"lvpI5l91Le9TcPiuBzePLx-QHfBi5x3UhK8E0yJ49foIvCw4iiNXI43R5CSfSyP9PF4Hu4yrh80y-hr_28w7g1wGhoa1V0dqpwKL5q4Yrfv3CDs7EzZ6N0T1STk901Snk6n8_VrksNaWa_bMUOF-KpiakYpKnYCkidyN2ri6gfwMBlmoWpMbAOEGys-R-eX9hP3UIEaL2KOAntFQL1L0Hhx2wIp2XqXX0rlkEwpB23NuAI7WrO6MPgwSgR5lnhHDb58geUwUaRsi5FyDaj9s5hIqYxft5pO4Nx2X9Jq63IBfUczFW1gXBf-T1vEso88wGPlm309JPf8GBqj03dI3yw","e":"AQAB"}]})";
constexpr const char* kIssuer = "https://fuzz.example.test";

// The JWKS file the cache reads, removed at exit.
class JwksFile {
 public:
  JwksFile() {
    char name[] = "/tmp/kc-jwt-fuzzer-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) std::abort();
    const std::string text = kJwks;
    if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
    close(fd);
    path_ = name;
  }
  ~JwksFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Fixture {
  JwksFile file;
  kc::api::JwksCache keys{[this] {
    kc::api::JwksSettings settings;
    settings.jwksFile = file.path();
    settings.refreshInterval = std::chrono::hours(24);  // unknown kids do not reread the file
    return settings;
  }()};
  kc::api::JwtValidator validator{keys, [] {
                                    kc::api::JwtSettings settings;
                                    settings.issuer = kIssuer;
                                    return settings;
                                  }()};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  const std::string input(reinterpret_cast<const char*>(data), size);

  (void)fixture.validator.validate(input);
  (void)fixture.validator.validateHeader(input);

  try {
    Poco::JSON::Parser parser;
    parser.setDepth(16);
    const Poco::Dynamic::Var root = parser.parse(input);
    if (root.type() == typeid(Poco::JSON::Object::Ptr)) {
      const auto claims = root.extract<Poco::JSON::Object::Ptr>();
      kc::api::ClaimExpectations expectations;
      expectations.issuer = kIssuer;
      expectations.now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
      (void)kc::api::checkClaims(*claims, expectations);
    }
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  (void)kc::UserId::parse(input);  // the token sub's parser
  return 0;
}
