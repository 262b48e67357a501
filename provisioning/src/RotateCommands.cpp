// kc-setup rotate begin | promote | rewrap | retire | status: online rotation of the wrapping
// key while any number of daemon instances keep serving (README, "Rotating the wrapping key").
//
// The order is what keeps every request and every write safe:
//   begin    the new key is made and listed in pkcs11.previous_wrap_keys: every instance
//            learns it at its next reload and can open records sealed by it, but seals nothing
//            with it yet;
//   promote  it becomes pkcs11.wrap_key and the old key moves to previous_wrap_keys: after the
//            reload, instances seal under the new key and still open the old records;
//   rewrap   every record not under the current key is moved under it (Rewrap.h);
//   retire   after a verification pass finds no record under the old keys, they leave the
//            configuration (and, with --destroy-old, the token).
// An operator reloads every instance after begin, promote and retire. Each step is safe to run
// again: it finishes what a crashed run left, or says there is nothing to do.

#include <ctime>
#include <iostream>
#include <set>

#include "Commands.h"
#include "Progress.h"
#include "RotationState.h"
#include "SetupSettings.h"
#include "ToolAudit.h"
#include "UriText.h"
#include "kc/appliance/Deployment.h"
#include "kc/pkcs11/KeyGeneration.h"
#include "kc/pkcs11/Pkcs11Uri.h"
#include "kc/provisioning/Rewrap.h"

namespace kc::setup {
namespace {

Status usageError(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

ExitCode refuse(const std::string& message) {
  std::cerr << "kc-setup: refused: " << message << "\n";
  return ExitCode::kRefusedByPolicy;
}

// A key ring the daemons would refuse: exit 1 when a key breaks the key policy.
ExitCode reportRingError(const Status& status) {
  if (status.code() == StatusCode::kPolicyViolation) return refuse(status.message());
  return reportError(status);
}

// What every rotate command works on: the daemon's configuration and a logged-in pool.
struct Rotation {
  appliance::DaemonConfig config;
  std::optional<RotationJournal> journal;
  std::shared_ptr<pkcs11::SessionPool> pool;
};

Result<Rotation> openRotation(const cli::ParsedFlags& flags, std::size_t sessions) {
  const auto file = flags.value("--config");
  if (!file) return usageError("--config FILE is required: the daemon's properties file");
  auto config =
      appliance::loadDaemonConfig(std::filesystem::path(*file), appliance::processEnvironment());
  if (!config) return config.status();
  auto journal = readJournal(config->configFile);
  if (!journal) return journal.status();
  auto pool = appliance::openTokenPool(*config, sessions);
  if (!pool) return pool.status();
  return Rotation{std::move(*config), std::move(*journal), std::move(*pool)};
}

Result<std::unique_ptr<audit::AuditLog>> openAudit(const Rotation& rotation) {
  auto log = openToolAuditLog(rotation.config, rotation.pool);
  if (!log) return Status(log.status().code(), "kc-setup's audit log: " + log.status().message());
  return log;
}

Status record(audit::AuditLog& log, std::string_view operation, std::string keyId,
              std::string detail, std::string_view outcome = audit::outcome::kOk) {
  audit::AuditRecord entry;
  entry.operation = std::string(operation);
  entry.outcome = std::string(outcome);
  entry.keyId = std::move(keyId);
  entry.detail = std::move(detail);
  Status written = log.append(std::move(entry));
  if (!written.isOk()) {
    return Status(written.code(), "kc-setup's audit log refused a record: " + written.message());
  }
  return Status::ok();
}

Result<pkcs11::RsaKeyPair> findKeyByUri(const Rotation& rotation, const std::string& uri) {
  auto parsed = pkcs11::Pkcs11Uri::parse(uri);
  if (!parsed) return parsed.status();
  auto key = pkcs11::RsaKeyPair::find(rotation.pool, *parsed);
  if (!key) return Status(key.status().code(), uri + ": " + key.status().message());
  return key;
}

// Writes the settings, or prints what to set instead. kOk when the file says `wanted` now.
ExitCode applySettings(const Rotation& rotation, const WrapKeySettings& wanted) {
  auto change = applyWrapKeySettings(rotation.config, wanted);
  if (!change) {
    reportError(change.status());
    return ExitCode::kError;
  }
  if (!change->instead.empty()) {
    std::cerr << "kc-setup: the wrapping keys are set by environment variables, which kc-setup "
                 "cannot edit.\nSet instead, in every instance's environment and kc-setup's, "
                 "then run this step again:\n"
              << change->instead;
    return ExitCode::kRefusedByPolicy;
  }
  if (change->written) std::cout << "updated " << rotation.config.configFile.string() << "\n";
  return ExitCode::kOk;
}

std::string defaultLabel() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  (void)std::strftime(text, sizeof text, "wrap-%Y%m%dT%H%M%SZ", &utc);  // 21 characters: fits
  return text;
}

bool contains(const std::vector<std::string>& uris, const std::string& uri) {
  return std::find(uris.begin(), uris.end(), uri) != uris.end();
}

// --- begin ---------------------------------------------------------------------------------

ExitCode runBegin(const cli::ParsedFlags& flags) {
  auto rotation = openRotation(flags, 2);
  if (!rotation) return reportError(rotation.status());
  const auto& pkcs = rotation->config.pkcs11;
  auto ring = appliance::openKeyRing(rotation->config, rotation->pool);
  if (!ring) return reportError(ring.status());

  std::string newUri;
  if (rotation->journal) {
    if (rotation->journal->step != RotationStep::kBegun) {
      return refuse("a rotation is under way and was promoted already (" +
                    journalPath(rotation->config.configFile).string() +
                    "): finish it with rotate rewrap and rotate retire");
    }
    newUri = rotation->journal->newKey;
    if (auto label = flags.value("--label"); label) {
      auto wanted = withObjectLabel(pkcs.token.empty() ? pkcs.wrapKey : pkcs.token, *label);
      if (!wanted || *wanted != newUri) {
        return refuse("a rotation to " + newUri +
                      " was begun already; run begin without --label "
                      "to finish it");
      }
    }
  } else {
    if (!pkcs.previousWrapKeys.empty()) {
      return refuse("pkcs11.previous_wrap_keys still lists " + joinUris(pkcs.previousWrapKeys) +
                    ": retire those keys (kc-setup rotate retire) before a new rotation");
    }
    const std::string label = flags.value("--label").value_or(defaultLabel());
    auto uri = withObjectLabel(pkcs.token.empty() ? pkcs.wrapKey : pkcs.token, label);
    if (!uri) return reportError(usageError("--label: " + uri.status().message()));
    newUri = *uri;
    if (newUri == pkcs.wrapKey) return refuse("'" + label + "' is the current wrapping key");
    // The journal first: a crash after generating leaves a key the next run picks up.
    Status noted = writeJournal(rotation->config.configFile, {RotationStep::kBegun, newUri, ""});
    if (!noted.isOk()) return reportError(noted);
  }

  auto audit = openAudit(*rotation);
  if (!audit) return reportError(audit.status());
  auto key = findKeyByUri(*rotation, newUri);
  if (!key && key.status().code() == StatusCode::kNotFound) {
    auto parsed = pkcs11::Pkcs11Uri::parse(newUri);
    if (!parsed) return reportError(parsed.status());
    auto bits = flags.has("--bits") ? resolveBits(flags) : Result<unsigned>(0u);
    if (!bits) return reportError(bits.status());
    unsigned size = *bits;
    if (size == 0) {
      auto current = ring->current().exportPublicKey();
      if (!current) return reportError(current.status());
      size = current->modulusBits;
    }
    const std::string label = objectLabel(*parsed).value_or("");
    key = pkcs11::generateKeyPair(
        rotation->pool, {.purpose = pkcs11::KeyPurpose::kWrap, .bits = size, .label = label});
    if (!key)
      return reportError(
          {key.status().code(), "cannot generate key '" + label + "': " + key.status().message()});
    std::cout << "generated wrapping key '" << label << "' (RSA-" << size << ", id " << key->idHex()
              << ")\n";
  } else if (!key) {
    return reportError(key.status());
  } else {
    std::cout << "wrapping key " << newUri << " exists already (id " << key->idHex() << ")\n";
  }

  // The daemons will refuse a ring they cannot build; check it here, before they reload.
  WrapKeySettings wanted = wrapKeySettingsOf(rotation->config);
  if (!contains(wanted.previousWrapKeys, newUri)) wanted.previousWrapKeys.push_back(newUri);
  auto checked = appliance::findKeyRing(
      rotation->pool,
      {wanted.wrapKey, wanted.previousWrapKeys, rotation->config.policy.allowNoncompliantKey});
  if (!checked) return reportRingError(checked.status());
  if (ExitCode applied = applySettings(*rotation, wanted); applied != ExitCode::kOk) {
    return applied;
  }
  Status recorded = record(**audit, audit::op::kRotateBegin, key->idHex(),
                           "new key " + key->label() + ", current " + ring->current().idHex());
  if (!recorded.isOk()) return reportError(recorded);
  printRows(std::cout, {{"new key", newUri},
                        {"id", key->idHex()},
                        {"current key", ring->current().idHex() + " (unchanged)"}});
  std::cout << "step 1 of 4 done: the new key is listed in pkcs11.previous_wrap_keys\n"
            << kReloadInstruction << ", then run: kc-setup rotate promote --config "
            << rotation->config.configFile.string() << "\n";
  return ExitCode::kOk;
}

// --- promote -------------------------------------------------------------------------------

ExitCode runPromote(const cli::ParsedFlags& flags) {
  auto rotation = openRotation(flags, 2);
  if (!rotation) return reportError(rotation.status());
  if (!rotation->journal) {
    return refuse("no rotation was begun for " + rotation->config.configFile.string() + " (no " +
                  journalPath(rotation->config.configFile).string() +
                  "): run kc-setup rotate begin first");
  }
  RotationJournal journal = *rotation->journal;
  const auto& pkcs = rotation->config.pkcs11;
  WrapKeySettings wanted = wrapKeySettingsOf(rotation->config);
  if (pkcs.wrapKey != journal.newKey) {
    if (journal.step == RotationStep::kPromoted) {
      return refuse("the journal says " + journal.newKey +
                    " was promoted, but pkcs11.wrap_key is " + pkcs.wrapKey +
                    ": the configuration was changed by hand; fix it first");
    }
    if (!contains(pkcs.previousWrapKeys, journal.newKey)) {
      return refuse(journal.newKey +
                    " is not in pkcs11.previous_wrap_keys yet: run kc-setup "
                    "rotate begin again to finish that step (and reload every instance)");
    }
    journal.oldKey = pkcs.wrapKey;
    wanted.wrapKey = journal.newKey;
    std::erase(wanted.previousWrapKeys, journal.newKey);
    wanted.previousWrapKeys.insert(wanted.previousWrapKeys.begin(), journal.oldKey);
  } else if (journal.oldKey.empty()) {
    return refuse("pkcs11.wrap_key is " + journal.newKey +
                  " already, but the journal does not say which key it replaced");
  } else {
    std::cout << "promoted already: pkcs11.wrap_key is " << journal.newKey << "\n";
  }
  auto checked = appliance::findKeyRing(
      rotation->pool,
      {wanted.wrapKey, wanted.previousWrapKeys, rotation->config.policy.allowNoncompliantKey});
  if (!checked) return reportRingError(checked.status());
  auto audit = openAudit(*rotation);
  if (!audit) return reportError(audit.status());

  // The journal's old key first, so a re-run after a crash knows what was replaced.
  journal.step = RotationStep::kBegun;
  if (Status noted = writeJournal(rotation->config.configFile, journal); !noted.isOk()) {
    return reportError(noted);
  }
  if (ExitCode applied = applySettings(*rotation, wanted); applied != ExitCode::kOk) {
    return applied;
  }
  journal.step = RotationStep::kPromoted;
  if (Status noted = writeJournal(rotation->config.configFile, journal); !noted.isOk()) {
    return reportError(noted);
  }
  const std::string oldId = checked->keys().size() > 1 ? checked->keys()[1].idHex() : "";
  Status recorded = record(**audit, audit::op::kRotatePromote, checked->current().idHex(),
                           "previous current key " + oldId);
  if (!recorded.isOk()) return reportError(recorded);
  printRows(std::cout,
            {{"current key", wanted.wrapKey + " (id " + checked->current().idHex() + ")"},
             {"previous keys", joinUris(wanted.previousWrapKeys)}});
  std::cout << "step 2 of 4 done: the new key is pkcs11.wrap_key\n"
            << kReloadInstruction << ", then run: kc-setup rotate rewrap --config "
            << rotation->config.configFile.string() << "\n";
  return ExitCode::kOk;
}

// --- rewrap --------------------------------------------------------------------------------

Result<Progress::Style> progressStyle(const cli::ParsedFlags& flags) {
  const std::string style = flags.value("--progress").value_or("auto");
  if (style == "auto") return Progress::Style::kAuto;
  if (style == "bar") return Progress::Style::kBar;
  if (style == "plain") return Progress::Style::kPlain;
  if (style == "none") return Progress::Style::kQuiet;
  return usageError("--progress must be auto, bar, plain or none");
}

Result<std::uint64_t> positiveNumber(const cli::ParsedFlags& flags, std::string_view flag,
                                     std::uint64_t fallback, std::uint64_t max) {
  const auto text = flags.value(flag);
  if (!text) return fallback;
  std::uint64_t value = 0;
  if (text->empty() || text->size() > 12 ||
      text->find_first_not_of("0123456789") != std::string::npos ||
      (value = std::stoull(*text)) == 0 || value > max) {
    return usageError(std::string(flag) + " must be a number from 1 to " + std::to_string(max));
  }
  return value;
}

void printPending(const provisioning::RewrapSummary& summary, const appliance::KeyRing& ring) {
  for (const auto& [keyId, count] : summary.pendingByKey) {
    bool known = false;
    for (const auto& key : ring.keys()) known = known || key.idHex() == keyId;
    std::cout << "  under " << keyId << (known ? "" : " (not in the key ring: cannot be opened)")
              << ": " << count << "\n";
  }
}

ExitCode runRewrap(const cli::ParsedFlags& flags) {
  auto threads = positiveNumber(flags, "--threads", 4, 256);
  if (!threads) return reportError(threads.status());
  auto limit = positiveNumber(flags, "--limit", 0, UINT64_MAX / 2);
  if (!limit) return reportError(limit.status());
  auto style = progressStyle(flags);
  if (!style) return reportError(style.status());
  auto rotation = openRotation(flags, static_cast<std::size_t>(*threads) + 1);
  if (!rotation) return reportError(rotation.status());
  if (rotation->journal && rotation->journal->step == RotationStep::kBegun) {
    return refuse(
        "the new key is not current yet: run kc-setup rotate promote and reload every "
        "instance first");
  }
  auto ring = appliance::openKeyRing(rotation->config, rotation->pool);
  if (!ring) return reportError(ring.status());
  auto store = appliance::openStore(rotation->config);
  if (!store) return reportError(store.status());

  provisioning::RewrapOptions options;
  options.threads = static_cast<std::size_t>(*threads);
  options.dryRun = true;
  auto plan = provisioning::rewrapRecords(*ring, **store, nullptr, options);
  if (!plan) return reportError(plan.status());
  std::cout << "current key " << plan->currentKeyId << "; " << plan->pending
            << " record(s) under other keys\n";
  printPending(*plan, *ring);
  if (flags.has("--dry-run")) {
    std::cout << "dry run: nothing was written";
    if (plan->unknown > 0) std::cout << "; " << plan->unknown << " record(s) would fail";
    std::cout << "\n";
    return ExitCode::kOk;
  }

  auto audit = openAudit(*rotation);
  if (!audit) return reportError(audit.status());
  std::uint64_t total = plan->pending;
  if (*limit != 0) {
    options.limit = *limit;
    total = std::min(total, *limit);
  }
  Progress progress(std::cerr, "records", total, *style);
  options.dryRun = false;
  options.progress = [&progress](std::uint64_t n) { progress.advance(n); };
  auto summary = provisioning::rewrapRecords(*ring, **store, audit->get(), options);
  progress.finish();
  if (!summary) return reportError(summary.status());

  printRows(std::cout,
            {{"rewrapped", std::to_string(summary->rewrapped)},
             {"skipped",
              std::to_string(summary->skipped) + " (rewritten under the current key meanwhile)"},
             {"retried", std::to_string(summary->retried) + " (lost a race, tried again)"},
             {"failed", std::to_string(summary->failures.size())}});
  constexpr std::size_t kShown = 50;
  for (std::size_t i = 0; i < summary->failures.size() && i < kShown; ++i) {
    const auto& failure = summary->failures[i];
    std::cout << "  failed: user " << failure.userId << " (key " << failure.wrappingKeyId
              << "): " << failure.status.toString() << "\n";
  }
  if (summary->failures.size() > kShown) {
    std::cout << "  ... and " << summary->failures.size() - kShown
              << " more (kc-setup's audit log has every one)\n";
  }
  if (summary->stoppedAtLimit) {
    std::cout << "stopped after --limit " << *limit << " record(s); run rewrap again to go on\n";
    return ExitCode::kOk;
  }
  if (!summary->failures.empty()) {
    std::cerr << "kc-setup: error: " << summary->failures.size()
              << " record(s) were not rewrapped; fix the cause and run rewrap again\n";
    return ExitCode::kError;
  }
  std::cout << "step 3 of 4 done: every record is under the current key\nthen run: kc-setup "
               "rotate retire --config "
            << rotation->config.configFile.string() << " [--destroy-old]\n";
  return ExitCode::kOk;
}

// --- retire --------------------------------------------------------------------------------

ExitCode runRetire(const cli::ParsedFlags& flags) {
  auto rotation = openRotation(flags, 2);
  if (!rotation) return reportError(rotation.status());
  const bool dryRun = flags.has("--dry-run");
  const bool destroy = flags.has("--destroy-old");
  if (rotation->journal && rotation->journal->step == RotationStep::kBegun) {
    return refuse("the rotation to " + rotation->journal->newKey +
                  " has not been promoted: run kc-setup rotate promote first (retiring now "
                  "would retire the new key)");
  }
  auto ring = appliance::openKeyRing(rotation->config, rotation->pool);
  if (!ring) return reportError(ring.status());
  auto store = appliance::openStore(rotation->config);
  if (!store) return reportError(store.status());

  // The keys to retire: those still listed, and (to finish a --destroy-old that stopped) the
  // journal's old key once the configuration no longer lists it.
  std::vector<std::string> retiring = rotation->config.pkcs11.previousWrapKeys;
  if (destroy && rotation->journal && !contains(retiring, rotation->journal->oldKey) &&
      rotation->journal->oldKey != rotation->config.pkcs11.wrapKey) {
    retiring.push_back(rotation->journal->oldKey);
  }
  struct Retiring {
    std::string uri;
    std::optional<pkcs11::RsaKeyPair> key;  // none: no longer on the token
  };
  std::vector<Retiring> keys;
  for (const auto& uri : retiring) {
    auto key = findKeyByUri(*rotation, uri);
    if (!key && key.status().code() == StatusCode::kNotFound &&
        !contains(rotation->config.pkcs11.previousWrapKeys, uri)) {
      keys.push_back({uri, std::nullopt});  // destroyed already
      continue;
    }
    if (!key) {
      return reportError({key.status().code(), "cannot verify that no record needs " + uri + ": " +
                                                   key.status().message()});
    }
    keys.push_back({uri, *key});
  }

  // The verification pass: the per-key counts and a page walk must both find nothing.
  auto counts = (*store)->countPerWrappingKey();
  if (!counts) return reportError(counts.status());
  std::vector<std::string> blocked;
  for (const auto& entry : keys) {
    if (!entry.key) continue;
    const std::string id = entry.key->idHex();
    const auto found = counts->find(id);
    std::int64_t count = found == counts->end() ? 0 : found->second;
    auto page = (*store)->listByWrappingKey(id, std::nullopt, 1);
    if (!page) return reportError(page.status());
    if (count == 0 && !page->empty()) count = 1;
    std::cout << "verify: " << count << " record(s) under " << id << " (" << entry.uri << ")\n";
    if (count > 0) blocked.push_back(std::to_string(count) + " under " + id);
  }
  for (const auto& [id, count] : *counts) {
    bool known = false;
    for (const auto& key : ring->keys()) known = known || key.idHex() == id;
    if (!known && count > 0) {
      std::cout << "warning: " << count << " record(s) under " << id
                << ", a key in no configuration: they cannot be opened\n";
    }
  }
  if (!blocked.empty()) {
    std::string list;
    for (const auto& one : blocked) list += (list.empty() ? "" : ", ") + one;
    return refuse("records still need the keys to retire (" + list +
                  "): run kc-setup rotate rewrap and fix its failures first");
  }
  if (keys.empty()) {
    std::cout << "nothing to retire: pkcs11.previous_wrap_keys is empty\n";
    if (!dryRun) {
      if (Status removed = removeJournal(rotation->config.configFile); !removed.isOk()) {
        return reportError(removed);
      }
    }
    return ExitCode::kOk;
  }
  if (dryRun) {
    for (const auto& entry : keys) {
      std::cout << "dry run: would retire " << entry.uri
                << (destroy && entry.key ? " and destroy it on the token" : "") << "\n";
    }
    return ExitCode::kOk;
  }

  auto audit = openAudit(*rotation);
  if (!audit) return reportError(audit.status());
  WrapKeySettings wanted = wrapKeySettingsOf(rotation->config);
  wanted.previousWrapKeys.clear();
  if (ExitCode applied = applySettings(*rotation, wanted); applied != ExitCode::kOk) {
    return applied;
  }
  for (const auto& entry : keys) {
    if (!entry.key || !contains(rotation->config.pkcs11.previousWrapKeys, entry.uri)) continue;
    Status recorded = record(**audit, audit::op::kKeyRetire, entry.key->idHex(),
                             "removed from pkcs11.previous_wrap_keys; no record needs it");
    if (!recorded.isOk()) return reportError(recorded);
    std::cout << "retired " << entry.uri << " (id " << entry.key->idHex() << ")\n";
  }
  if (destroy) {
    for (const auto& entry : keys) {
      if (!entry.key) {
        std::cout << entry.uri << " is not on the token any more\n";
        continue;
      }
      Status destroyed = pkcs11::destroyKeyPair(rotation->pool, *entry.key);
      if (!destroyed.isOk() && destroyed.code() != StatusCode::kNotFound) {
        (void)record(**audit, audit::op::kKeyDestroy, entry.key->idHex(),
                     std::string(statusCodeName(destroyed.code())), audit::outcome::kError);
        return reportError({destroyed.code(), "cannot destroy " + entry.uri + ": " +
                                                  destroyed.message() +
                                                  " (run retire --destroy-old again)"});
      }
      Status recorded = record(**audit, audit::op::kKeyDestroy, entry.key->idHex(),
                               "both halves destroyed on the token");
      if (!recorded.isOk()) return reportError(recorded);
      std::cout << "destroyed " << entry.uri << " (id " << entry.key->idHex() << ") on the token\n";
    }
  }
  if (Status removed = removeJournal(rotation->config.configFile); !removed.isOk()) {
    return reportError(removed);
  }
  std::cout << "step 4 of 4 done: the old key is retired\n" << kReloadInstruction << "\n";
  return ExitCode::kOk;
}

// --- status --------------------------------------------------------------------------------

ExitCode runStatus(const cli::ParsedFlags& flags) {
  auto rotation = openRotation(flags, 1);
  if (!rotation) return reportError(rotation.status());
  auto store = appliance::openStore(rotation->config);
  if (!store) return reportError(store.status());
  auto counts = (*store)->countPerWrappingKey();
  if (!counts) return reportError(counts.status());
  const auto& pkcs = rotation->config.pkcs11;
  std::vector<std::pair<std::string, std::string>> rows;
  std::set<std::string> named;
  auto describe = [&](const std::string& uri) {
    auto key = findKeyByUri(*rotation, uri);
    if (!key) return uri + " (not found on the token)";
    named.insert(key->idHex());
    const auto found = counts->find(key->idHex());
    return uri + " (id " + key->idHex() + ", " +
           std::to_string(found == counts->end() ? 0 : found->second) + " record(s))";
  };
  rows.push_back({"current key", describe(pkcs.wrapKey)});
  for (const auto& uri : pkcs.previousWrapKeys) rows.push_back({"previous key", describe(uri)});
  for (const auto& [id, count] : *counts) {
    if (!named.contains(id))
      rows.push_back({"unknown key", id + " (" + std::to_string(count) + " record(s))"});
  }
  std::string step;
  std::string next;
  std::int64_t underOthers = 0;
  for (const auto& uri : pkcs.previousWrapKeys) {
    if (auto key = findKeyByUri(*rotation, uri); key && counts->contains(key->idHex())) {
      underOthers += counts->at(key->idHex());
    }
  }
  if (!rotation->journal) {
    step =
        pkcs.previousWrapKeys.empty() ? "none under way" : "old keys listed, no rotation journal";
    next = pkcs.previousWrapKeys.empty() ? "kc-setup rotate begin" : "kc-setup rotate retire";
  } else if (rotation->journal->step == RotationStep::kBegun) {
    step = "1 of 4, begun: the new key is known but not current";
    next = "reload every instance, then kc-setup rotate promote";
  } else if (underOthers > 0) {
    step = "2 of 4, promoted: records remain under the old key";
    next = "reload every instance, then kc-setup rotate rewrap";
  } else {
    step = "3 of 4, rewrapped: no record needs the old key";
    next = "kc-setup rotate retire [--destroy-old]";
  }
  rows.insert(rows.begin(), {"rotation", step});
  rows.push_back({"next", next});
  printRows(std::cout, rows);
  return ExitCode::kOk;
}

constexpr std::string_view kConfigEdited =
    "the daemon's properties file (required): its pkcs11.wrap_key and "
    "pkcs11.previous_wrap_keys are edited in place";
constexpr std::string_view kConfigRead = "the daemon's properties file (required; not edited)";

std::vector<cli::FlagSpec> withConfig(std::string_view configHelp,
                                      std::vector<cli::FlagSpec> extra) {
  std::vector<cli::FlagSpec> out = {{"--config", "FILE", std::string(configHelp)}};
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

}  // namespace

std::vector<Command> rotateCommands() {
  Command begin{
      {"rotate", "begin",
       "Step 1: generate the new wrapping key and list it in pkcs11.previous_wrap_keys.",
       "Every instance learns the new key at its next reload (SIGHUP) and can open what it\n"
       "seals, before anything is sealed with it. Writes <config>.rotation, the rotation's\n"
       "journal. Refuses while an earlier rotation's old keys are still listed.",
       withConfig(kConfigEdited,
                  {{"--label", "NAME", "the new key's label (default: wrap-<UTC time>)"},
                   {"--bits", "BITS", "2048, 3072 or 4096 (default: the current key's size)"}})},
      runBegin};
  Command promote{
      {"rotate", "promote",
       "Step 2: make the new key pkcs11.wrap_key; the old one moves to previous_wrap_keys.",
       "Run only after every instance reloaded since begin. Refuses unless begin listed the\n"
       "new key; running it again changes nothing.",
       withConfig(kConfigEdited, {})},
      runPromote};
  Command rewrap{
      {"rotate", "rewrap",
       "Step 3: move every record under the current key, online, never over a concurrent PUT.",
       "Run only after every instance reloaded since promote. Pages through the records under\n"
       "other keys on several threads; each is replaced only if unchanged since it was read.\n"
       "Resumable: running it again picks up what is left. Each rewrap is audited.",
       withConfig(kConfigRead,
                  {{"--threads", "N", "workers on the token's session pool (default: 4)"},
                   {"--limit", "N", "stop after N records (run again to go on)"},
                   {"--dry-run", "", "count the records per key; write nothing"},
                   {"--progress", "auto|bar|plain|none", "progress on standard error"}})},
      runRewrap};
  Command retire{
      {"rotate", "retire",
       "Step 4: after a verification pass finds no record under them, remove the old keys.",
       "Removes them from pkcs11.previous_wrap_keys, and with --destroy-old destroys both halves\n"
       "on the token (irreversible). Refuses, with the counts, while any record needs them.",
       withConfig(kConfigEdited,
                  {{"--destroy-old", "", "also destroy the retired keys on the token"},
                   {"--dry-run", "", "verify and say what would change; write nothing"}})},
      runRetire};
  Command status{{"rotate", "status", "Show the rotation's step and the records per key.",
                  "Reads the configuration, the journal and the store; changes nothing.",
                  withConfig(kConfigRead, {})},
                 runStatus};
  return {std::move(begin), std::move(promote), std::move(rewrap), std::move(retire),
          std::move(status)};
}

}  // namespace kc::setup
