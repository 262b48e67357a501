// kc-setup import-bitwarden: moves a Bitwarden Key Connector deployment's users onto ours.
// The flags and their fallbacks are in ImportSources.h, the per-user steps in
// BitwardenImporter.h; this file wires them to the destination the daemon's configuration
// describes, draws the progress and prints the summary.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <iostream>
#include <optional>

#include "BitwardenImporter.h"
#include "Commands.h"
#include "DeploymentStatus.h"
#include "ImportSources.h"
#include "Progress.h"
#include "ToolAudit.h"
#include "kc/appliance/Deployment.h"

namespace kc::setup {
namespace {

std::atomic<bool> gStop{false};

// First Ctrl-C (or SIGTERM): finish the users in flight, print the summary, exit. A second one
// kills the process the default way (the import is resumable either way).
extern "C" void onStopSignal(int signal) {
  gStop.store(true);
  constexpr char kMessage[] =
      "\nkc-setup: stopping after the users in flight (again to stop at once)\n";
  (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  // Cannot fail: a valid signal number (the one being handled) and SIG_DFL.
  (void)::signal(signal, SIG_DFL);
}

class StopSignals {
 public:
  StopSignals() {
    gStop.store(false);
    struct sigaction action = {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &oldInt_);
    ::sigaction(SIGTERM, &action, &oldTerm_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &oldInt_, nullptr);
    ::sigaction(SIGTERM, &oldTerm_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction oldInt_ = {};
  struct sigaction oldTerm_ = {};
};

Status usage(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

Result<std::size_t> threadsFlag(const cli::ParsedFlags& flags, std::size_t fallback) {
  const auto text = flags.value("--threads");
  if (!text) return fallback;
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 1 || value > 64) {
    return usage("--threads expects a number from 1 to 64");
  }
  return value;
}

Result<Progress::Style> progressFlag(const cli::ParsedFlags& flags) {
  const std::string text = flags.value("--progress").value_or("auto");
  if (text == "auto") return Progress::Style::kAuto;
  if (text == "bar") return Progress::Style::kBar;
  if (text == "plain") return Progress::Style::kPlain;
  if (text == "none") return Progress::Style::kQuiet;
  return usage("--progress expects auto, bar, plain or none");
}

void printProblems(const std::string& title, const std::vector<UserProblem>& problems) {
  if (problems.empty()) return;
  std::cout << title << ":\n";
  for (const auto& problem : problems) {
    std::cout << "  " << problem.userId << ": " << problem.reason << "\n";
  }
}

ExitCode printSummary(const ImportSummary& summary, const ImportOptions& options,
                      const Status& stopped) {
  const std::string imported = options.dryRun ? "would import" : "imported";
  std::vector<std::pair<std::string, std::string>> rows = {
      {"users in the source", std::to_string(summary.sourceUsers)},
      {imported, std::to_string(summary.imported) +
                     (summary.replaced > 0 ? " (" + std::to_string(summary.replaced) +
                                                 (options.dryRun ? " would replace" : " replaced") +
                                                 " under --overwrite)"
                                           : "")},
      {"already present", std::to_string(summary.alreadyPresent)},
      {"conflicting", std::to_string(summary.conflicts.size())},
      {"failed", std::to_string(summary.failures.size())},
  };
  if (summary.interrupted || !stopped.isOk()) {
    rows.emplace_back("not handled", std::to_string(summary.sourceUsers - summary.handled()));
  }
  printRows(std::cout, rows);
  printProblems("conflicting users", summary.conflicts);
  printProblems("failed users", summary.failures);

  const bool incomplete = !summary.conflicts.empty() || !summary.failures.empty();
  if (!stopped.isOk()) {
    std::cout << "stopped: the import did not finish (see the error); fix it and run the same "
                 "command again: users already imported are found present and skipped\n";
    return ExitCode::kError;
  }
  if (summary.interrupted) {
    std::cout << "interrupted after " << summary.handled() << " of " << summary.sourceUsers
              << " users: run the same command again to finish (users already imported are "
                 "found present and skipped)\n";
    return ExitCode::kInterrupted;
  }
  if (options.dryRun) {
    std::cout << "dry run: nothing was written; run again without --dry-run to import\n";
  } else if (summary.imported == 0 && !incomplete) {
    std::cout << "nothing to do: every user is already present; nothing was written\n";
  } else if (!incomplete) {
    std::cout << "done: every user of the source is in our store, verified\n";
  }
  if (incomplete) {
    std::cout << (summary.conflicts.size() + summary.failures.size())
              << " users not imported (listed above): fix them and run again; users already "
                 "imported are skipped\n";
    return ExitCode::kIncomplete;
  }
  return ExitCode::kOk;
}

ExitCode runImport(const cli::ParsedFlags& flags) {
  ImportOptions options;
  options.dryRun = flags.has("--dry-run");
  options.overwrite = flags.has("--overwrite");
  auto style = progressFlag(flags);
  if (!style) return reportError(style.status());

  const appliance::Environment environment = appliance::processEnvironment();
  auto source = resolveImportSource(flags, environment);
  if (!source) return reportError(source.status());

  // Inside the reference's environment its variables describe the source: never the
  // destination.
  const auto configFile = flags.value("--config");
  auto config = appliance::loadDaemonConfig(
      configFile ? std::optional<std::filesystem::path>(*configFile) : std::nullopt, environment,
      appliance::ConfigLayers::kWithoutReferenceVariables);
  if (!config) return reportError(config.status());
  auto threads = threadsFlag(flags, std::min<std::size_t>(4, config->pkcs11.sessions));
  if (!threads) return reportError(threads.status());
  options.threads = *threads;

  auto key = provisioning::ReferenceKey::open(source->key);
  if (!key) {
    return reportError(
        {key.status().code(), "source key (" + source->keyOrigin + "): " + key.status().message()});
  }
  auto deployment = provisioning::ReferenceDeployment::open(source->data);
  if (!deployment) {
    return reportError({deployment.status().code(),
                        "source (" + source->dataOrigin + "): " + deployment.status().message()});
  }
  auto aesKey = provisioning::openSymmetricKey(**deployment, *key);
  if (!aesKey) {
    return reportError({aesKey.status().code(),
                        "the reference's symmetric key (in " + (*deployment)->describe() +
                            ") with the " + key->describe() + ": " + aesKey.status().message()});
  }

  auto pool = appliance::openTokenPool(*config, options.threads + 1);
  if (!pool) return reportError(pool.status());
  auto ring = appliance::openKeyRing(*config, *pool);
  if (!ring) return reportError(ring.status());
  auto store = appliance::openStore(*config);
  if (!store) return reportError(store.status());
  auto auditLog = openToolAuditLog(*config, *pool);
  if (!auditLog) return reportError(auditLog.status());

  // Where it writes, so an operator inside the reference's environment sees at once that the
  // destination is not the reference's database.
  const std::string destination = std::string((*store)->backendName()) + " store at " +
                                  databaseLocation(appliance::storeConfigFrom(*config)) +
                                  ", wrapping key " + ring->current().idHex() + " ('" +
                                  ring->current().label() + "')";
  printRows(std::cout, {{"source", (*deployment)->describe()},
                        {"source key", key->describe()},
                        {"destination", destination}});
  if (options.dryRun) std::cout << "dry run: nothing will be written\n";
  std::cout << std::flush;

  ImportContext context{.source = **deployment,
                        .referenceAesKey = *aesKey,
                        .ring = *ring,
                        .store = **store,
                        .audit = **auditLog,
                        .description = (*deployment)->describe() + " with the " + key->describe() +
                                       ", into the " + destination};
  std::optional<Progress> progress;
  options.onTotal = [&](std::uint64_t total) {
    progress.emplace(std::cerr, "users", total, *style, std::max<std::uint64_t>(100, total / 20));
  };
  options.onProgress = [&](std::uint64_t count) {
    if (progress) progress->advance(count);
  };
  StopSignals signals;
  options.stop = &gStop;

  ImportSummary partial;
  auto summary = importUsers(context, options, &partial);
  if (progress) progress->finish();
  const Status closed = (*auditLog)->close();
  if (!summary) {
    std::cerr << "kc-setup: error: " << summary.status().message() << "\n";
    printSummary(partial, options, summary.status());
    return ExitCode::kError;
  }
  const ExitCode code = printSummary(*summary, options, Status::ok());
  if (!closed.isOk()) {
    std::cerr << "kc-setup: error: closing kc-setup's audit log: " << closed.message() << "\n";
    return ExitCode::kError;
  }
  return code;
}

cli::CommandSpec importSpec() {
  cli::CommandSpec spec;
  spec.group = "import-bitwarden";
  spec.summary = "Move the users of a Bitwarden Key Connector deployment under our token.";
  spec.description =
      "Reads the reference Key Connector's database (SQLite, PostgreSQL, MySQL/MariaDB) or\n"
      "JSON file, opens its symmetric key with its RSA key (PKCS#12/PFX, PEM, or a key on a\n"
      "PKCS#11 token), and stores every user key in the store of --config, sealed by our\n"
      "wrapping key, with its creation, revision and last-access dates. Each key is checked\n"
      "by opening it again before it is counted. Users already present with the same key are\n"
      "skipped, so running it again changes nothing, and an interrupted run (Ctrl-C, a crash)\n"
      "is finished by running it again. A user present with another key is a conflict, left\n"
      "untouched without --overwrite. Every source flag not given falls back to the\n"
      "reference's own keyConnectorSettings__* variable named in its help, so it can run\n"
      "inside the old deployment's environment; those variables never configure the\n"
      "destination. Secrets come from files (mode 0600) or the environment, never the command\n"
      "line, and are never printed. Audited in kc-setup's own chain\n"
      "(<audit.directory>/kc-setup): import.start, one import.user per user with the token\n"
      "operations, import.end.";
  spec.exitStatuses = {
      {0, "every user imported or already present (or a dry run found nothing wrong)"},
      {2, "a usage, source, token, store or audit error (the run stopped; run again once fixed)"},
      {3, "some users conflict or failed (listed with the reason; the rest were imported)"},
      {4, "interrupted (run again to finish)"}};
  spec.flags.push_back(
      {"--config", "FILE",
       "the daemon's properties file: the destination (database.*, pkcs11.*, audit.*); KC_* "
       "variables override it; keyConnectorSettings__* never do"});
  for (auto& flag : importSourceFlags()) spec.flags.push_back(std::move(flag));
  spec.flags.push_back({"--dry-run", "",
                        "decrypt, compare and verify every user, write nothing, and say what "
                        "would be done"});
  spec.flags.push_back({"--overwrite", "",
                        "replace a user present in our store with another key (a conflict) by "
                        "the source's; without it conflicts are left untouched"});
  spec.flags.push_back(
      {"--threads", "N", "users imported at once (default: 4, at most pkcs11.sessions)"});
  spec.flags.push_back({"--progress", "auto|bar|plain|none",
                        "progress on standard error: a bar on a terminal, a line every 5% "
                        "otherwise (default auto)"});
  return spec;
}

}  // namespace

std::vector<Command> importCommands() {
  return {{importSpec(), &runImport}};
}

}  // namespace kc::setup
