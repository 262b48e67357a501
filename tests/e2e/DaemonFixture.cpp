#include "DaemonFixture.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kc/pkcs11/KeyGeneration.h"
#include "support/SecretLedger.h"

extern char** environ;

namespace kc::test {

std::string HttpResponse::header(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  auto it = headers.find(lower);
  return it == headers.end() ? std::string() : it->second;
}

E2eEnvironment& E2eEnvironment::get() {
  static E2eEnvironment environment;
  return environment;
}

E2eEnvironment::E2eEnvironment() {
  auto pool = token_->openPool({.size = 1});
  for (auto [purpose, label] : {std::pair{pkcs11::KeyPurpose::kWrap, "e2e-wrap"},
                                std::pair{pkcs11::KeyPurpose::kAudit, "e2e-audit"}}) {
    auto key = pkcs11::generateKeyPair(pool, {.purpose = purpose, .bits = 2048, .label = label});
    if (!key) throw std::runtime_error(key.status().toString());
    if (purpose == pkcs11::KeyPurpose::kAudit) {
      auto exported = key->exportPublicKey();
      if (!exported) throw std::runtime_error(exported.status().toString());
      auditPublicKey_ = dir_ / "audit-public.pem";
      writeFile(auditPublicKey_, exported->pem);
    }
  }
  identityDir_ = dir_ / "identity";
  foreignIdentityDir_ = dir_ / "foreign-identity";
  for (const auto& directory : {identityDir_, foreignIdentityDir_}) {
    Status created = provisioning::createDevIdentity(directory, issuer());
    if (!created.isOk()) throw std::runtime_error(created.toString());
  }
}

std::string E2eEnvironment::tokenFor(const std::string& userId,
                                     provisioning::DevTokenClaims claims) const {
  claims.userId = userId;
  auto token = provisioning::mintDevToken(identityDir_, claims);
  if (!token) throw std::runtime_error(token.status().toString());
  recordSecret("token", *token);
  return *token;
}

std::string E2eEnvironment::foreignTokenFor(const std::string& userId) const {
  provisioning::DevTokenClaims claims;
  claims.userId = userId;
  auto token = provisioning::mintDevToken(foreignIdentityDir_, claims);
  if (!token) throw std::runtime_error(token.status().toString());
  recordSecret("token", *token);
  return *token;
}

std::string E2eEnvironment::newUserId() {
  std::random_device device;
  std::uniform_int_distribution<int> nibble(0, 15);
  std::string id = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (char& c : id) {
    if (c == 'x') c = "0123456789abcdef"[nibble(device)];
  }
  return id;
}

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {
  port_ = freeLoopbackPort();
  adminPort_ = freeLoopbackPort();
  if (options_.sharedConfigFile) {
    options_.env["KC_SERVER_PORT"] = std::to_string(port_);
    options_.env["KC_SERVER_ADMIN_PORT"] = std::to_string(adminPort_);
    options_.env["KC_AUDIT_DIRECTORY"] = auditDir().string();
    options_.env["KC_DATABASE_SQLITE_PATH"] = databasePath().string();
  } else {
    writeConfig();
  }
  if (options_.startNow) start();
}

Daemon::~Daemon() {
#ifdef KC_SANITIZED
  // Only an exit of its own runs LeakSanitizer's check; SIGKILL would skip it.
  if (process_) process_->stop(SIGTERM, std::chrono::seconds(10));
#else
  if (process_) process_->stop(SIGKILL, std::chrono::milliseconds(100));
#endif
  const std::string output = log();
  if (auto report = sanitizerReport(output)) {
    ADD_FAILURE() << "keyconnectord reported a sanitizer error:\n" << *report;
  }
  // Its log and audit trail, for the scan that no secret shows in them (SecretScanTest).
  keepFiles(dir_ / "daemon.log");
  keepFiles(auditDir());
}

void Daemon::writeConfig() {
  writeFile(configPath(), daemonConfigText(options_, dir_.path(), port_, adminPort_));
}

void Daemon::setConfig(const std::string& key, const std::string& value) {
  if (options_.sharedConfigFile) throw std::logic_error("setConfig on a shared config file");
  options_.config[key] = value;
  writeConfig();
}

std::size_t Daemon::auditCount(const std::string& op) const {
  const std::string needle = "\"op\":\"" + op + "\"";
  std::size_t count = 0;
  for (const auto& line : auditLines()) count += line.find(needle) != std::string::npos ? 1 : 0;
  return count;
}

std::string daemonConfigText(const DaemonOptions& options, const std::filesystem::path& dir,
                             int port, int adminPort) {
  auto& environment = E2eEnvironment::get();
  std::map<std::string, std::string> config = {
      {"server.address", "127.0.0.1"},
      {"server.port", std::to_string(port)},
      {"server.admin_port", std::to_string(adminPort)},
      {"server.workers", "8"},
      {"identity.jwks_file", (environment.identityDir() / "jwks.json").string()},
      {"identity.issuer", environment.issuer()},
      {"web_vault.origin", "https://vault.e2e.invalid"},
      {"database.provider", options.databaseProvider},
      {"database.sqlite_path", (dir / "keys.db").string()},
      {"pkcs11.module", environment.token().modulePath()},
      {"pkcs11.token", environment.token().tokenUri()},
      {"pkcs11.wrap_key", environment.token().tokenUri() + ";object=e2e-wrap;type=private"},
      {"pkcs11.audit_key", environment.token().tokenUri() + ";object=e2e-audit;type=private"},
      {"pkcs11.pin_file", environment.token().pinFile().string()},
      {"pkcs11.sessions", "4"},
      {"audit.directory", (dir / "audit").string()},
      {"log.level", "information"},
  };
  if (!environment.token().initArgs().empty()) {
    config["pkcs11.init_args"] = environment.token().initArgs();
  }
  if (!options.connectionString.empty()) {
    config["database.connection_string"] = options.connectionString;
  }
  for (const auto& [key, value] : options.config) {
    if (value.empty()) {
      config.erase(key);
    } else {
      config[key] = value;
    }
  }
  std::string text;
  for (const auto& [key, value] : config) text += key + " = " + value + "\n";
  return text;
}

void Daemon::start() {
  ProcessOptions processOptions;
  processOptions.env = E2eEnvironment::get().token().childEnvironment();
  for (const auto& [name, value] : options_.env) processOptions.env[name] = value;
  // The caller's KC_* settings must not leak into the daemon under test.
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string name(*entry);
    name = name.substr(0, name.find('='));
    if ((name.rfind("KC_", 0) == 0 || name.rfind("keyConnectorSettings__", 0) == 0) &&
        !options_.env.count(name)) {
      processOptions.unsetEnv.push_back(name);
    }
  }
  std::vector<std::string> argv = options_.launcher;
  for (const std::string& argument :
       {std::string(KC_DAEMON_PATH), std::string("--config"), configPath().string()}) {
    argv.push_back(argument);
  }
  process_ =
      std::make_unique<BackgroundProcess>(argv, (dir_ / "daemon.log").string(), processOptions);
  if (options_.waitUntilReady && !waitForAlive(std::chrono::seconds(30))) {
    throw std::runtime_error("keyconnectord did not answer /alive; its log:\n" + log());
  }
}

bool Daemon::waitForAlive(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) return false;
    try {
      if (get("/alive").status == 200) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

int Daemon::stop(int signal) {
  return process_->stop(signal, std::chrono::seconds(20));
}
void Daemon::sendSignal(int signal) {
  kill(process_->pid(), signal);
}
bool Daemon::running() {
  return process_->running();
}

std::optional<int> Daemon::waitForExit(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) return process_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

std::vector<std::string> Daemon::auditLines() const {
  // A release's outcome records are synced after its answer (within AuditLog::kDeferredDelay,
  // 20 ms): read once the file has not grown for 100 ms, at most 5 s.
  std::string text = readFile(auditDir() / "audit.log");
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string again = readFile(auditDir() / "audit.log");
    if (again == text) break;
    text = std::move(again);
  }
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Daemon::log() const {
  try {
    return readFile(dir_ / "daemon.log");
  } catch (const std::exception&) {
    return {};
  }
}

HttpResponse Daemon::send(const HttpRequest& request) const {
  Poco::Net::HTTPClientSession session(
      "127.0.0.1", static_cast<Poco::UInt16>(request.admin ? adminPort_ : port_));
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest httpRequest(request.method, request.path,
                                     Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : request.headers) httpRequest.set(name, value);
  if (request.body) {
    httpRequest.setContentLength(static_cast<std::streamsize>(request.body->size()));
    session.sendRequest(httpRequest) << *request.body;
  } else {
    session.sendRequest(httpRequest);
  }
  Poco::Net::HTTPResponse httpResponse;
  std::istream& body = session.receiveResponse(httpResponse);
  HttpResponse response;
  response.status = static_cast<int>(httpResponse.getStatus());
  for (const auto& [name, value] : httpResponse) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    response.headers[lower] = value;
  }
  Poco::StreamCopier::copyToString(body, response.body);
  return response;
}

HttpResponse Daemon::get(const std::string& path, const std::string& bearer) const {
  HttpRequest request{.method = "GET", .path = path};
  request.headers["Accept"] = "application/json";
  if (!bearer.empty()) request.headers["Authorization"] = "Bearer " + bearer;
  return send(request);
}

HttpResponse Daemon::getAdmin(const std::string& path) const {
  return send({.method = "GET", .path = path, .admin = true});
}

HttpResponse Daemon::sendKey(const std::string& method, const std::string& bearer,
                             const std::string& jsonBody) const {
  HttpRequest request{.method = method, .path = "/user-keys", .body = jsonBody};
  request.headers["Accept"] = "application/json";
  request.headers["Content-Type"] = "application/json; charset=utf-8";
  if (!bearer.empty()) request.headers["Authorization"] = "Bearer " + bearer;
  return send(request);
}

void makeSelfSignedCertificate(const std::filesystem::path& dir, const std::string& commonName) {
  auto made =
      runProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                  (dir / "key.pem").string(), "-out", (dir / "cert.pem").string(), "-days", "1",
                  "-subj", "/CN=" + commonName, "-addext", "subjectAltName=IP:127.0.0.1"});
  if (made.exitCode != 0) throw std::runtime_error("openssl req failed: " + made.err);
}

std::string keyBody(const std::string& base64Key, const std::string& property) {
  return "{\"" + property + "\":\"" + base64Key + "\"}";
}

std::string randomKeyBase64(std::size_t bytes) {
  std::random_device device;
  std::string raw(bytes, '\0');
  for (char& c : raw) c = static_cast<char>(device());
  recordSecret("user-key", raw);
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << raw;
  encoder.close();
  return out.str();
}

std::pair<int, std::string> failedStart(DaemonOptions options) {
  options.waitUntilReady = false;
  Daemon daemon(std::move(options));
  auto code = daemon.waitForExit(std::chrono::seconds(30));
  if (!code) return {-1, "still running"};
  return {*code, daemon.log()};
}

}  // namespace kc::test
