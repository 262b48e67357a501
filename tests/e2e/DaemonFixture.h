#pragma once
// End-to-end harness: the real keyconnectord binary, started as a child process on a
// free loopback port, with a real token (SoftHSM, or the one KC_TEST_TOKEN names), a development
// identity and a database (SQLite in a temp dir, or the throwaway PostgreSQL server). Tests speak
// HTTP to it.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kc/pkcs11/RsaKeyPair.h"
#include "kc/provisioning/DevIdentity.h"
#include "support/SoftHsmToken.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"
#include "support/TestToken.h"

namespace kc::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path = "/";
  std::map<std::string, std::string> headers;
  std::optional<std::string> body;
  bool admin = false;  // to the admin listener (/metrics, the detailed /health)
};

// What every daemon of a test process shares: the token with its wrapping and audit keys,
// and a development identity.
class E2eEnvironment {
 public:
  static E2eEnvironment& get();

  TestToken& token() { return *token_; }
  // The audit key's public half, as kc-setup key export writes it.
  const std::filesystem::path& auditPublicKey() const { return auditPublicKey_; }
  const std::filesystem::path& identityDir() const { return identityDir_; }
  // Another identity with the same issuer: its tokens are signed by a key the daemon does
  // not trust until its JWKS is given to it.
  const std::filesystem::path& foreignIdentityDir() const { return foreignIdentityDir_; }
  std::string issuer() const { return "https://identity.e2e.invalid"; }
  // A token for `userId` signed by the development identity; `claims` can spoil it.
  std::string tokenFor(const std::string& userId, provisioning::DevTokenClaims claims = {}) const;
  // A token signed by a key the daemon has never seen (another identity, same issuer).
  std::string foreignTokenFor(const std::string& userId) const;
  static std::string newUserId();

 private:
  E2eEnvironment();
  std::unique_ptr<TestToken> token_ = makeTestToken("kc-e2e");
  TempDir dir_{"kc-e2e-env"};
  std::filesystem::path identityDir_;
  std::filesystem::path foreignIdentityDir_;
  std::filesystem::path auditPublicKey_;
};

struct DaemonOptions {
  std::string databaseProvider = "sqlite";    // or "postgresql"
  std::string connectionString;               // for postgresql
  std::map<std::string, std::string> config;  // extra or replaced properties
  std::map<std::string, std::string> env;     // extra environment
  bool waitUntilReady = true;
  // A properties file several instances share (see daemonConfigText), used instead of one
  // written per daemon: this instance's port, audit directory and SQLite path then come from
  // KC_SERVER_PORT, KC_AUDIT_DIRECTORY and KC_DATABASE_SQLITE_PATH, as a second instance's
  // would on one host.
  std::optional<std::filesystem::path> sharedConfigFile;
  // false: only write the configuration; start() later (a test that prepares the store first,
  // as kc-setup import-bitwarden does, from configPath()).
  bool startNow = true;
  // A command the daemon's argv is appended to, which must exec it (so the daemon keeps the
  // launcher's pid): {"/bin/sh", "-c", "...; exec \"$0\" \"$@\""}. Empty: started directly.
  std::vector<std::string> launcher;
};

// The properties the fixture writes for a daemon in `dir` listening on `port` (and its admin
// listener on `adminPort`), as file text: for a file several instances share
// (DaemonOptions::sharedConfigFile), where KC_SERVER_ADMIN_PORT then sets each one's.
std::string daemonConfigText(const DaemonOptions& options, const std::filesystem::path& dir,
                             int port, int adminPort = 0);

class Daemon {
 public:
  explicit Daemon(DaemonOptions options = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int port() const { return port_; }
  int adminPort() const { return adminPort_; }
  // The process id of the running daemon.
  pid_t pid() const { return process_->pid(); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path configPath() const {
    return options_.sharedConfigFile.value_or(dir_ / "keyconnector.properties");
  }
  // Sets (or, with an empty value, removes) one property and rewrites this daemon's own
  // config file; a running daemon sees it at its next SIGHUP.
  void setConfig(const std::string& key, const std::string& value);
  // How many records of operation `op` ("keyring.reload") the active audit log holds.
  std::size_t auditCount(const std::string& op) const;
  std::filesystem::path databasePath() const { return dir_ / "keys.db"; }
  std::filesystem::path auditDir() const { return dir_ / "audit"; }
  // The lines of the active audit log, once the deferred records of answered requests are in.
  std::vector<std::string> auditLines() const;
  std::string log() const;

  HttpResponse send(const HttpRequest& request) const;
  HttpResponse get(const std::string& path, const std::string& bearer = {}) const;
  // GET on the admin listener.
  HttpResponse getAdmin(const std::string& path) const;
  HttpResponse sendKey(const std::string& method, const std::string& bearer,
                       const std::string& jsonBody) const;

  // Starts the process (again); waits for /alive when `waitUntilReady`.
  void start();
  // Sends `signal` and returns the exit code.
  int stop(int signal = 15);
  void sendSignal(int signal);
  bool running();
  // Waits for the process to exit by itself; its exit code, or nullopt on timeout.
  std::optional<int> waitForExit(std::chrono::seconds timeout);

 private:
  void writeConfig();
  bool waitForAlive(std::chrono::seconds timeout);

  DaemonOptions options_;
  TempDir dir_{"kc-e2e-daemon"};
  int port_ = 0;
  int adminPort_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// Starts a daemon whose start-up must fail and waits (up to 30 s) for it to exit: its exit
// code and log, or {-1, "still running"}.
std::pair<int, std::string> failedStart(DaemonOptions options);

// A self-signed certificate for 127.0.0.1 (CN `commonName`), as dir/cert.pem and
// dir/key.pem, made with the openssl command. Throws on failure.
void makeSelfSignedCertificate(const std::filesystem::path& dir, const std::string& commonName);

// {"key":"<base64 of n bytes>"}
std::string keyBody(const std::string& base64Key, const std::string& property = "key");
std::string randomKeyBase64(std::size_t bytes = 64);

}  // namespace kc::test
