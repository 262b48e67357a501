// keyconnectord: the Bitwarden-compatible key server.
//
//   keyconnectord --config /etc/keyconnector/keyconnector.properties
//
// SIGTERM or SIGINT: stop accepting, let in-flight requests finish, exit 0.
// SIGHUP: reload the wrapping keys (pkcs11.wrap_key, pkcs11.previous_wrap_keys), the identity
// server's signing keys and the TLS certificate.
// Under systemd (Type=notify, $NOTIFY_SOCKET): READY=1 once every start-up check has passed
// and the listener accepts, RELOADING=1 ... READY=1 around a SIGHUP reload, STOPPING=1 when
// the drain begins, STATUS= on a failed start, and watchdog pings (WatchdogSec=, see
// Watchdog.h for what they prove).

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "Logging.h"
#include "ServedCertificate.h"
#include "Startup.h"
#include "SystemdNotify.h"
#include "Watchdog.h"
#include "kc/Version.h"
#include "kc/api/AdminRequestHandlerFactory.h"
#include "kc/api/HealthCache.h"
#include "kc/api/HttpFront.h"
#include "kc/api/RequestHandlerFactory.h"
#include "kc/api/StopServer.h"

namespace kc::daemon {
namespace {

using Poco::Util::Application;
using Poco::Util::Option;
using Poco::Util::OptionSet;

constexpr std::chrono::seconds kDrainTimeout{30};
// How often the control loop wakes without a signal when no watchdog asks for more.
constexpr std::chrono::microseconds kIdleTurn{std::chrono::seconds(1)};

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

timespec asTimespec(std::chrono::microseconds duration) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  return timespec{.tv_sec = static_cast<time_t>(seconds.count()),
                  .tv_nsec = static_cast<long>((duration - seconds).count() * 1000)};
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
  Status attached = attachServedCertificate(context->sslContext());
  if (!attached.isOk()) throw Poco::Exception(attached.message());
  return context;
}

// Loads and checks the certificate and key files again, then serves them: new connections
// get them, established ones keep the old; a bad pair leaves the old one serving.
Status reloadCertificate(Poco::Net::Context& context, const appliance::TlsSettings& tls) {
  return replaceServedCertificate(context.sslContext(), tls.certificate, tls.privateKey);
}

// The admin listener (server.admin_address, server.admin_port): GET /metrics and the
// detailed /health, plain HTTP; none when server.admin_port is 0. Started and accepting.
Result<std::unique_ptr<Poco::Net::HTTPServer>> startAdminListener(
    const appliance::DaemonConfig& config, api::Metrics& metrics,
    std::shared_ptr<api::HealthCache> health) {
  if (config.server.adminPort == 0) return std::unique_ptr<Poco::Net::HTTPServer>();
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(2);  // monitoring, not traffic
  params->setMaxQueued(16);
  params->setTimeout(Poco::Timespan(config.server.readTimeout.count(), 0));
  params->setServerName("keyconnectord");
  api::AdminSettings settings;
  settings.serveMetrics = config.server.metrics;
  settings.writeTimeout = config.server.writeTimeout;
  try {
    const Poco::Net::SocketAddress address(config.server.adminAddress, config.server.adminPort);
    Poco::Net::ServerSocket socket;
    // No SO_REUSEPORT (Poco's default): a port another process listens on is an error, not a
    // port shared with it.
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(16);
    auto server = std::make_unique<Poco::Net::HTTPServer>(
        new api::AdminRequestHandlerFactory(metrics, std::move(health), settings), socket, params);
    server->start();
    daemonLogger().information("admin listener (/metrics, /health) on http://" +
                               address.toString());
    return server;
  } catch (const Poco::Exception& e) {
    return Status(StatusCode::kInvalidArgument,
                  "server.admin_address / server.admin_port: " + e.displayText());
  }
}

api::FrontSettings frontSettings(const appliance::ServerSettings& server) {
  api::FrontSettings front;
  front.workers = server.workers;
  front.maxQueued = server.maxQueued;
  front.keepAlive = server.keepAlive;
  front.maxKeepAliveRequests = server.maxKeepAliveRequests;
  front.keepAliveTimeout = server.keepAliveTimeout;
  front.headTimeout = server.headTimeout;
  front.readTimeout = server.readTimeout;
  front.writeTimeout = server.writeTimeout;
  front.maxConnectionsPerClient = server.maxConnectionsPerClient;
  front.trustedProxies = server.trustedProxies;
  return front;
}

// Poco's table of options, each line indented by two spaces.
class OptionTable final : public Poco::Util::HelpFormatter {
 public:
  explicit OptionTable(const OptionSet& options) : HelpFormatter(options) {
    setUnixStyle(true);
    setWidth(78);  // 80 columns with the indentation
  }
  std::string text() const {
    std::ostringstream table;
    formatOptions(table);
    std::string indented;
    std::istringstream lines(table.str());
    for (std::string line; std::getline(lines, line);) indented += "  " + line + "\n";
    return indented;
  }
};

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
    options.addOption(Option("version", "", "print the version and exit")
                          .required(false)
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<KeyConnectorDaemon>(
                              this, &KeyConnectorDaemon::takeVersion)));
  }

  int main(const std::vector<std::string>&) override {
    if (helpRequested_) {
      printHelp();
      return EXIT_OK;
    }
    if (versionRequested_) {
      std::cout << "keyconnectord " << kVersion << "\n";
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
    const Poco::Net::SocketAddress address(config.server.address, config.server.port);
    Poco::Net::Context::Ptr context;
    std::optional<Poco::Net::ServerSocket> socket;
    try {
      if (config.tls.enabled()) context = tlsContext(config.tls);
      socket.emplace(address, 64);
    } catch (const Poco::Exception& e) {
      return fail(EXIT_CONFIG,
                  Status(StatusCode::kInvalidArgument,
                         (config.tls.enabled() ? "tls / server.port: " : "server.port: ") +
                             e.displayText()));
    }

    api::ApiSettings apiSettings;
    apiSettings.webVaultOrigin = config.webVault.origin;
    apiSettings.serveMetrics = config.server.metrics && config.server.publicMetrics;
    apiSettings.healthDetail = config.server.publicHealthDetail;
    apiSettings.writeTimeout = config.server.writeTimeout;
    apiSettings.trustedProxies = config.server.trustedProxies;
    if (!config.server.trustedProxies.empty()) {
      daemonLogger().information("client addresses from X-Forwarded-For through trusted proxies " +
                                 config.server.trustedProxies.describe());
    }
    auto health = std::make_shared<api::HealthCache>(
        *components.service, api::HealthCache::kDefaultMaxAge, components.metrics.get());
    auto admin = startAdminListener(config, *components.metrics, health);
    if (!admin) return fail(EXIT_CONFIG, admin.status());
    auto factory = std::make_unique<api::RequestHandlerFactory>(
        *components.service, *components.validator, *components.metrics, apiSettings, health);
    // Our front end reads the request heads, after the TLS handshake if any (HttpFront.h).
    api::FrontSettings settings = frontSettings(config.server);
    if (context) settings.tls = context->sslContext();
    api::HttpFront front(std::move(factory), *socket, std::move(settings));
    front.start();
    const auto openConnections = [&] { return front.activeConnections(); };
    const std::string serving =
        std::string("listening on ") + (config.tls.enabled() ? "https://" : "http://") +
        address.toString() + " with " + std::to_string(config.server.workers) + " workers";
    daemonLogger().information(serving);

    Heartbeat heartbeat;
    std::optional<Watchdog> watchdog;
    std::chrono::microseconds turn = kIdleTurn;
    if (const auto timeout = watchdogTimeoutFromEnvironment(); timeout && notifier_.enabled()) {
      watchdog.emplace(notifier_, *timeout, heartbeat);
      turn = std::min(turn, watchdog->beatInterval());
      daemonLogger().information(
          "systemd watchdog: " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(*timeout).count()) +
          " ms timeout, pinged at half of it while the control loop turns");
    }
    // Every start-up check has passed and the listener accepts: only now is the service up.
    tellSystemd(notifier_.ready(serving));
    runControlLoop(config, components, context, serving, heartbeat, turn);

    daemonLogger().information("stopping: no new connections; waiting for requests in flight");
    tellSystemd(notifier_.stopping("stopping: draining requests in flight"));
    front.stopAccepting();
    const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    while (openConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
      heartbeat.beat();  // a bounded wait: the watchdog keeps pinging through the drain
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (openConnections() > 0) {
      daemonLogger().warning(std::to_string(openConnections()) +
                             " connection(s) still open after the drain timeout");
    }
    if (*admin) api::stopServer(**admin);
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

  // The control loop, in the main thread: takes SIGINT, SIGTERM and SIGQUIT (returns: stop)
  // and SIGHUP (reloads here, between RELOADING=1 and READY=1). It wakes at least every
  // `turn` and beats `heartbeat` each time round, so the watchdog's pings stop when this loop
  // is stuck — in a reload on a token that no longer answers, say.
  void runControlLoop(const appliance::DaemonConfig& config, Components& components,
                      const Poco::Net::Context::Ptr& context, const std::string& serving,
                      Heartbeat& heartbeat, std::chrono::microseconds turn) {
    const sigset_t signals = handledSignals();
    appliance::KeyRingSettings ring = appliance::keyRingSettingsFrom(config);
    while (true) {
      heartbeat.beat();
      const timespec timeout = asTimespec(turn);
      const int signal = sigtimedwait(&signals, nullptr, &timeout);
      if (signal < 0) continue;  // EAGAIN: time to beat again; EINTR
      if (signal != SIGHUP) {
        daemonLogger().information("SIG" + std::string(sigabbrev_np(signal)) + ": shutting down");
        return;
      }
      tellSystemd(notifier_.reloading("reloading"));
      const std::string failed = reload(config, components, context, ring);
      tellSystemd(
          notifier_.ready(serving + (failed.empty() ? ""
                                                    : "; the last reload failed for: " + failed +
                                                          " (kept as before, see the log)")));
    }
  }

  // SIGHUP's work: the wrapping keys, the identity server's signing keys and the TLS
  // certificate. What fails to load leaves the one in use; returns what failed ("" when all
  // loaded), for systemd's STATUS=.
  std::string reload(const appliance::DaemonConfig& config, Components& components,
                     Poco::Net::Context::Ptr context, appliance::KeyRingSettings& ring) {
    daemonLogger().information(
        "SIGHUP: reloading the wrapping keys, the identity server's "
        "signing keys" +
        std::string(context ? " and the TLS certificate" : ""));
    std::string failed;
    auto noteFailed = [&failed](const std::string& part) {
      failed += (failed.empty() ? "" : ", ") + part;
    };
    if (!reloadWrappingKeys(config, components, ring)) noteFailed("the wrapping keys");
    Status keys = components.jwks->reload();
    if (keys.isOk()) {
      daemonLogger().information("signing keys reloaded");
    } else {
      daemonLogger().error("signing keys not reloaded, the previous ones stay in use: " +
                           keys.message());
      noteFailed("the signing keys");
    }
    if (context) {
      Status certificate = reloadCertificate(*context, config.tls);
      if (certificate.isOk()) {
        daemonLogger().information("TLS certificate reloaded");
      } else {
        daemonLogger().error(certificate.message() + "; the previous certificate stays in use");
        noteFailed("the TLS certificate");
      }
    }
    return failed;
  }

  // Reads the configuration again and, when pkcs11.wrap_key or pkcs11.previous_wrap_keys
  // changed, swaps in the new key ring (the rotation's steps, see README). Other settings take
  // effect at the next start. False when the configuration or the new keys did not load.
  bool reloadWrappingKeys(const appliance::DaemonConfig& started, Components& components,
                          appliance::KeyRingSettings& inUse) {
    const std::optional<std::filesystem::path> file =
        started.configFile.empty() ? std::nullopt : std::optional(started.configFile);
    auto fresh = appliance::loadDaemonConfig(file, appliance::processEnvironment());
    if (!fresh) {
      daemonLogger().error("configuration not reloaded, the wrapping keys in use stay: " +
                           fresh.status().message());
      return false;
    }
    const appliance::KeyRingSettings wanted = appliance::keyRingSettingsFrom(*fresh);
    if (wanted == inUse) {
      daemonLogger().information("wrapping keys unchanged");
      return true;
    }
    Status reloaded = reloadKeyRing(*fresh, components);
    if (!reloaded.isOk()) {
      daemonLogger().error("wrapping keys not reloaded, the ones in use stay: " +
                           reloaded.message());
      return false;
    }
    inUse = wanted;
    return true;
  }

  int fail(int exitCode, const Status& status) {
    std::cerr << "keyconnectord: error: " << status.message() << std::endl;
    // --check runs as ExecStartPre, whose messages a NotifyAccess=main unit refuses.
    if (!checkOnly_) tellSystemd(notifier_.status("failed to start: " + status.message()));
    return exitCode;
  }

  // A notification systemd did not get is logged, never fatal: the daemon serves regardless.
  static void tellSystemd(const Status& sent) {
    if (!sent.isOk()) daemonLogger().warning("systemd not notified: " + sent.message());
  }

  // The help in the GNU layout help2man turns into the man page: "Usage:", indented options,
  // then paragraphs.
  void printHelp() {
    std::cout << "Usage: keyconnectord [--config FILE] [--check]\n"
                 "  or:  keyconnectord --help | --version\n"
                 "The HSM Key Connector: Bitwarden's Key Connector HTTP contract, with every user\n"
                 "key wrapped by a non-exportable key on a PKCS#11 token.\n"
                 "\n"
                 "Options:\n"
              << OptionTable(options()).text() << "\n"
              << R"(Every setting can be overridden by an environment variable KC_<KEY> (upper
case, dots as underscores); Bitwarden Key Connector's keyConnectorSettings__*
variables are read too.

Start-up checks the token, the wrapping key, the database, the identity keys
and the audit log, and stops with one line naming the setting at fault.
SIGTERM drains requests in flight and exits 0; SIGHUP reloads the wrapping
keys, the identity server's signing keys and the TLS certificate.

Under systemd (Type=notify) it sends READY=1 once every start-up check has
passed and the listener accepts, RELOADING=1 and READY=1 around a reload,
STOPPING=1 when it drains, and watchdog pings (WatchdogSec=) while its control
loop turns.

Exit status: 0 ok, 69 token or database unavailable, 78 configuration or
start-up check failed.
)";
  }

  void takeConfig(const std::string&, const std::string& value) { configFile_ = value; }
  void takeCheck(const std::string&, const std::string&) { checkOnly_ = true; }
  void takeHelp(const std::string&, const std::string&) {
    helpRequested_ = true;
    stopOptionsProcessing();
  }
  void takeVersion(const std::string&, const std::string&) {
    versionRequested_ = true;
    stopOptionsProcessing();
  }

  std::optional<std::filesystem::path> configFile_;
  bool checkOnly_ = false;
  bool helpRequested_ = false;
  bool versionRequested_ = false;
  const SystemdNotifier notifier_ = SystemdNotifier::fromEnvironment();
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
