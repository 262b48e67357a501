// keyconnectord: the Bitwarden-compatible key server.
//
//   keyconnectord --config /etc/keyconnector/keyconnector.properties
//
// SIGTERM or SIGINT: stop accepting, let in-flight requests finish, exit 0.
// SIGHUP: reload the wrapping keys (pkcs11.wrap_key, pkcs11.previous_wrap_keys), the identity
// server's signing keys and the TLS certificate.

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <atomic>
#include <iostream>
#include <optional>
#include <thread>

#include "Logging.h"
#include "Startup.h"
#include "kc/api/RequestHandlerFactory.h"

namespace kc::daemon {
namespace {

using Poco::Util::Application;
using Poco::Util::Option;
using Poco::Util::OptionSet;

constexpr std::chrono::seconds kDrainTimeout{30};

Poco::Logger& daemonLogger() {
  return Poco::Logger::get("kc.daemon");
}

// Keeps key material out of core dumps: no core file, and not dumpable by ptrace peers.
void forbidCoreDumps() {
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// The signals the daemon handles are blocked in every thread (threads inherit the mask of
// the thread that creates them) and taken with sigwait, so none can kill a worker thread.
sigset_t handledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&set, signal);
  return set;
}

Poco::Net::Context::Ptr tlsContext(const appliance::TlsSettings& tls) {
  Poco::Net::Context::Params params;
  params.privateKeyFile = tls.privateKey.string();
  params.certificateFile = tls.certificate.string();
  params.caLocation = tls.caChain.string();
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // clients are not asked for certs
  params.loadDefaultCAs = false;
  params.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS:!RC4:!3DES";
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  context->preferServerCiphers();
  return context;
}

// Loads the certificate and key files again into the running context: new connections
// get them, established ones keep the old.
Status reloadCertificate(Poco::Net::Context& context, const appliance::TlsSettings& tls) {
  SSL_CTX* ssl = context.sslContext();
  if (SSL_CTX_use_certificate_chain_file(ssl, tls.certificate.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ssl, tls.privateKey.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ssl) != 1) {
    return Status(StatusCode::kInvalidArgument,
                  "tls.certificate/tls.private_key: cannot load " + tls.certificate.string());
  }
  return Status::ok();
}

class KeyConnectorDaemon final : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Option("config", "c", "the properties file (see README: Configuration)")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE")
                          .callback(Poco::Util::OptionCallback<KeyConnectorDaemon>(
                              this, &KeyConnectorDaemon::takeConfig)));
    options.addOption(
        Option("check", "", "check the configuration, token, keys and database, then exit")
            .required(false)
            .repeatable(false)
            .callback(Poco::Util::OptionCallback<KeyConnectorDaemon>(
                this, &KeyConnectorDaemon::takeCheck)));
    options.addOption(Option("help", "h", "print this help and exit")
                          .required(false)
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<KeyConnectorDaemon>(
                              this, &KeyConnectorDaemon::takeHelp)));
  }

  int main(const std::vector<std::string>&) override {
    if (helpRequested_) {
      printHelp();
      return EXIT_OK;
    }
    auto config = appliance::loadDaemonConfig(configFile_, appliance::processEnvironment());
    if (!config) return fail(EXIT_CONFIG, config.status());
    configureLogging(config->log);

    auto components = startComponents(*config);
    if (!components) {
      const auto code = components.status().code();
      return fail(code == StatusCode::kUnavailable || code == StatusCode::kTimeout
                      ? EXIT_UNAVAILABLE
                      : EXIT_CONFIG,
                  components.status());
    }
    if (checkOnly_) {
      std::cout << "keyconnectord: configuration, token, keys and database are ready\n";
      return EXIT_OK;
    }
    return serve(*config, *components);
  }

 private:
  int serve(const appliance::DaemonConfig& config, Components& components) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(static_cast<int>(config.server.workers));
    params->setMaxQueued(static_cast<int>(config.server.maxQueued));
    params->setKeepAlive(config.server.keepAlive);
    params->setMaxKeepAliveRequests(static_cast<int>(config.server.maxKeepAliveRequests));
    params->setKeepAliveTimeout(Poco::Timespan(config.server.keepAliveTimeout.count(), 0));
    params->setTimeout(Poco::Timespan(config.server.readTimeout.count(), 0));
    params->setServerName("keyconnectord");

    const Poco::Net::SocketAddress address(config.server.address, config.server.port);
    Poco::Net::Context::Ptr context;
    std::optional<Poco::Net::ServerSocket> socket;
    try {
      if (config.tls.enabled()) {
        context = tlsContext(config.tls);
        socket.emplace(Poco::Net::SecureServerSocket(address, 64, context));
      } else {
        socket.emplace(address, 64);
      }
    } catch (const Poco::Exception& e) {
      return fail(EXIT_CONFIG,
                  Status(StatusCode::kInvalidArgument,
                         (config.tls.enabled() ? "tls / server.port: " : "server.port: ") +
                             e.displayText()));
    }

    api::ApiSettings apiSettings;
    apiSettings.webVaultOrigin = config.webVault.origin;
    apiSettings.serveMetrics = config.server.metrics;
    apiSettings.trustedProxies = config.server.trustedProxies;
    if (!config.server.trustedProxies.empty()) {
      daemonLogger().information("client addresses from X-Forwarded-For through trusted proxies " +
                                 config.server.trustedProxies.describe());
    }
    Poco::Net::HTTPServer server(
        new api::RequestHandlerFactory(*components.service, *components.validator,
                                       *components.metrics, apiSettings),
        *socket, params);
    server.start();
    daemonLogger().information(
        std::string("listening on ") + (config.tls.enabled() ? "https://" : "http://") +
        address.toString() + " with " + std::to_string(config.server.workers) + " workers");

    std::atomic<bool> stopping{false};
    std::thread reloader([&] { reloadOnHangup(config, components, context, stopping); });
    waitForTerminationRequest();
    stopping = true;
    pthread_kill(reloader.native_handle(), SIGHUP);
    reloader.join();

    daemonLogger().information("stopping: no new connections; waiting for requests in flight");
    server.stopAll(false);
    const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    while (server.currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (server.currentConnections() > 0) {
      daemonLogger().warning(std::to_string(server.currentConnections()) +
                             " connection(s) still open after the drain timeout");
    }
    components.service->close();  // the refusal summaries of the last interval
    Status sealed = components.audit->close();
    if (!sealed.isOk())
      daemonLogger().error("audit log not sealed at shutdown: " + sealed.message());
    Status flushed = components.store->flushAccessTimes();
    if (!flushed.isOk())
      daemonLogger().warning("last-access times not flushed: " + flushed.message());
    daemonLogger().information("stopped");
    return EXIT_OK;
  }

  void reloadOnHangup(const appliance::DaemonConfig& config, Components& components,
                      Poco::Net::Context::Ptr context, std::atomic<bool>& stopping) {
    const sigset_t hangup = [] {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGHUP);
      return set;
    }();
    appliance::KeyRingSettings ring = appliance::keyRingSettingsFrom(config);
    while (true) {
      int signal = 0;
      if (sigwait(&hangup, &signal) != 0 || stopping) return;
      daemonLogger().information(
          "SIGHUP: reloading the wrapping keys, the identity server's "
          "signing keys" +
          std::string(context ? " and the TLS certificate" : ""));
      reloadWrappingKeys(config, components, ring);
      Status keys = components.jwks->reload();
      if (keys.isOk()) {
        daemonLogger().information("signing keys reloaded");
      } else {
        daemonLogger().error("signing keys not reloaded, the previous ones stay in use: " +
                             keys.message());
      }
      if (context) {
        Status certificate = reloadCertificate(*context, config.tls);
        if (certificate.isOk()) {
          daemonLogger().information("TLS certificate reloaded");
        } else {
          daemonLogger().error(certificate.message() + "; the previous certificate stays in use");
        }
      }
    }
  }

  // Reads the configuration again and, when pkcs11.wrap_key or pkcs11.previous_wrap_keys
  // changed, swaps in the new key ring (the rotation's steps, see README). Other settings take
  // effect at the next start.
  void reloadWrappingKeys(const appliance::DaemonConfig& started, Components& components,
                          appliance::KeyRingSettings& inUse) {
    const std::optional<std::filesystem::path> file =
        started.configFile.empty() ? std::nullopt : std::optional(started.configFile);
    auto fresh = appliance::loadDaemonConfig(file, appliance::processEnvironment());
    if (!fresh) {
      daemonLogger().error("configuration not reloaded, the wrapping keys in use stay: " +
                           fresh.status().message());
      return;
    }
    const appliance::KeyRingSettings wanted = appliance::keyRingSettingsFrom(*fresh);
    if (wanted == inUse) {
      daemonLogger().information("wrapping keys unchanged");
      return;
    }
    Status reloaded = reloadKeyRing(*fresh, components);
    if (!reloaded.isOk()) {
      daemonLogger().error("wrapping keys not reloaded, the ones in use stay: " +
                           reloaded.message());
      return;
    }
    inUse = wanted;
  }

  int fail(int exitCode, const Status& status) {
    std::cerr << "keyconnectord: error: " << status.message() << std::endl;
    return exitCode;
  }

  void printHelp() {
    Poco::Util::HelpFormatter help(options());
    help.setCommand("keyconnectord");
    help.setUsage("--config FILE [--check]");
    help.setHeader(
        "The HSM Key Connector: Bitwarden's Key Connector HTTP contract, with every user key "
        "wrapped by a non-exportable key on a PKCS#11 token.");
    help.setFooter(
        "Every setting can be overridden by an environment variable KC_<KEY> (dots as "
        "underscores), and Bitwarden Key Connector's keyConnectorSettings__* variables are "
        "read too. SIGTERM drains and exits 0; SIGHUP reloads the wrapping keys, the identity keys "
        "and the TLS "
        "certificate. Exit codes: 0 ok, 69 token or database unavailable, 78 configuration "
        "or start-up check failed.");
    help.format(std::cout);
  }

  void takeConfig(const std::string&, const std::string& value) { configFile_ = value; }
  void takeCheck(const std::string&, const std::string&) { checkOnly_ = true; }
  void takeHelp(const std::string&, const std::string&) {
    helpRequested_ = true;
    stopOptionsProcessing();
  }

  std::optional<std::filesystem::path> configFile_;
  bool checkOnly_ = false;
  bool helpRequested_ = false;
};

}  // namespace
}  // namespace kc::daemon

int main(int argc, char** argv) {
  kc::daemon::forbidCoreDumps();
  const sigset_t signals = kc::daemon::handledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Poco::Net::initializeSSL();
  kc::daemon::KeyConnectorDaemon daemon;
  const int code = daemon.run(argc, argv);
  Poco::Net::uninitializeSSL();
  return code;
}
