// The audit trail under the requests an auditor cannot trust: clients that reuse one
// X-Request-Id concurrently, floods of refused tokens, and the published chain head
// (GET /audit/head), all through the real daemon.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "DaemonFixture.h"
#include "kc/Base64.h"
#include "kc/audit/AuditRecord.h"
#include "kc/audit/CheckpointSigner.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;

std::vector<audit::AuditRecord> parsedAuditRecords(const Daemon& daemon) {
  std::vector<audit::AuditRecord> out;
  for (const auto& line : daemon.auditLines()) {
    auto record = audit::parseRecord(line);
    EXPECT_TRUE(record.isOk()) << line << ": " << record.status().message();
    if (record.isOk()) out.push_back(std::move(*record));
  }
  return out;
}

TEST(AuditRequests, ConcurrentRequestsWithTheSameClientRequestIdEachGetTheirOwnRecords) {
  Daemon daemon;
  constexpr int kClients = 6;
  constexpr int kRounds = 4;
  std::vector<std::string> users, tokens;
  for (int i = 0; i < kClients; ++i) {
    users.push_back(E2eEnvironment::newUserId());
    tokens.push_back(E2eEnvironment::get().tokenFor(users.back()));
    ASSERT_EQ(daemon.sendKey("PUT", tokens.back(), keyBody(randomKeyBase64(32))).status, 200);
  }

  // Every request carries the same X-Request-Id; each thread remembers the ids it was given.
  std::vector<std::vector<HttpResponse>> answers(kClients);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < kClients) std::this_thread::yield();
      for (int round = 0; round < kRounds; ++round) {
        HttpRequest request{.method = "GET", .path = "/user-keys"};
        request.headers = {{"Authorization", "Bearer " + tokens[i]}, {"X-Request-Id", "same-id"}};
        answers[i].push_back(daemon.send(request));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  const auto records = parsedAuditRecords(daemon);
  std::set<std::string> ids;
  for (int i = 0; i < kClients; ++i) {
    for (const auto& answer : answers[i]) {
      ASSERT_EQ(answer.status, 200);
      EXPECT_EQ(answer.header("x-client-request-id"), "same-id");
      const std::string id = answer.header("x-request-id");
      EXPECT_EQ(id.size(), 32u);
      EXPECT_TRUE(ids.insert(id).second) << "the daemon's request id repeated: " << id;
      std::vector<std::string> ops;
      for (const auto& record : records) {
        if (record.requestId != id) continue;
        ops.push_back(record.operation);
        EXPECT_EQ(record.userId, users[i]) << "a record of another request's user under " << id;
        EXPECT_EQ(record.clientRequestId, "same-id");
        EXPECT_EQ(record.outcome, record.operation == "key.release.intent" ? "pending" : "ok");
      }
      EXPECT_EQ(ops,
                (std::vector<std::string>{"key.release.intent", "token.unwrap", "key.release"}))
          << "request " << id << " of user " << users[i];
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kClients * kRounds));

  // And the chain holding them verifies, as an auditor would check it through kc-audit.
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();
  auto verified = runProcess({KC_AUDIT_PATH, "verify", "--public-key",
                              E2eEnvironment::get().auditPublicKey().string(),
                              (daemon.auditDir() / "audit.log").string()});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
}

TEST(AuditRequests, AFloodOfRefusedTokensCostsBoundedRecordsAndDelaysNoKeyRelease) {
  constexpr int kPerClient = 5;
  Daemon daemon({.config = {{"audit.checkpoint_interval_s", "1"},
                            {"audit.refusals_per_client", std::to_string(kPerClient)},
                            {"audit.refusal_interval_s", "1"}}});
  const std::string user = E2eEnvironment::newUserId();
  const std::string token = E2eEnvironment::get().tokenFor(user);
  const std::string key = randomKeyBase64(64);
  ASSERT_EQ(daemon.sendKey("PUT", token, keyBody(key)).status, 200);

  // A bounded flood: 4 threads sending bad tokens over loopback for 3 seconds.
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> flood;
  const auto floodStart = std::chrono::steady_clock::now();
  for (int t = 0; t < 4; ++t) {
    flood.emplace_back([&] {
      while (!stop) {
        try {
          if (daemon.get("/user-keys", "not.a.token").status == 401) ++refused;
        } catch (const std::exception&) {
        }
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  const auto before = std::chrono::steady_clock::now();
  const auto released = daemon.get("/user-keys", token);
  const auto releaseTime = std::chrono::steady_clock::now() - before;
  std::this_thread::sleep_for(1500ms);
  stop = true;
  for (auto& thread : flood) thread.join();
  const double floodSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - floodStart).count();

  EXPECT_EQ(released.status, 200);
  EXPECT_EQ(released.body, "{\"key\":\"" + key + "\"}");
  EXPECT_LT(releaseTime, 2s) << "a key release waited behind the flood";
  ASSERT_GT(refused.load(), 4 * kPerClient * 4) << "the flood was too small to test anything";

  const auto metrics = daemon.getAdmin("/metrics");
  EXPECT_NE(metrics.body.find("kc_audit_refusals_summarised_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("kc_audit_records_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("kc_audit_bytes_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("kc_audit_checkpoints_total "), std::string::npos);
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();  // writes the last interval's summary

  // One by one: at most kPerClient per started interval; the rest counted in summaries.
  const auto records = parsedAuditRecords(daemon);
  std::uint64_t individual = 0, summarised = 0, summaries = 0;
  std::vector<std::int64_t> checkpoints;
  for (const auto& record : records) {
    if (record.operation == audit::op::kKeyRefused && record.httpStatus == 401) ++individual;
    if (record.operation == audit::op::kKeyRefusedSummary) {
      ++summaries;
      EXPECT_EQ(record.clientAddress, "127.0.0.1");
      EXPECT_EQ(record.outcome, "denied");
      const auto count = record.detail.substr(6, record.detail.find(' ') - 6);
      summarised += std::stoull(count);
      EXPECT_NE(record.detail.find("statuses=401:" + count), std::string::npos) << record.detail;
    }
    if (record.operation == audit::op::kCheckpoint) checkpoints.push_back(record.timeMicros);
  }
  const auto intervals = static_cast<std::uint64_t>(floodSeconds) + 2;
  EXPECT_LE(individual, intervals * kPerClient);
  EXPECT_LE(summaries, intervals);
  EXPECT_EQ(individual + summarised, static_cast<std::uint64_t>(refused.load()))
      << "every refusal is recorded or counted";

  // Checkpoints came on time under the flood: no gap much longer than the interval.
  ASSERT_GE(checkpoints.size(), 3u);
  for (std::size_t i = 1; i < checkpoints.size(); ++i) {
    EXPECT_LT(checkpoints[i] - checkpoints[i - 1], 2'500'000) << "checkpoint " << i;
  }
  auto verified = runProcess(
      {KC_AUDIT_PATH, "verify", "--public-key", E2eEnvironment::get().auditPublicKey().string(),
       "--checkpoint-interval", "1", (daemon.auditDir() / "audit.log").string()});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
}

// A flood from many addresses (behind a trusted proxy), each address under its own limit: the
// total caps the refusals recorded one by one, the rest are counted per client.
TEST(AuditRequests, RefusalsFromManyAddressesAreCappedByTheTotalAndCountedPerClient) {
  constexpr int kAddresses = 40;
  constexpr int kTotal = 12;
  Daemon daemon({.config = {{"server.trusted_proxies", "127.0.0.1/32"},
                            {"audit.refusals_per_client", "5"},
                            {"audit.refusals_total", std::to_string(kTotal)},
                            {"audit.refusal_interval_s", "600"}}});
  for (int i = 1; i <= kAddresses; ++i) {
    HttpRequest request{.method = "GET", .path = "/user-keys"};
    request.headers = {{"Authorization", "Bearer not.a.token"},
                       {"X-Forwarded-For", "10.0.0." + std::to_string(i)}};
    ASSERT_EQ(daemon.send(request).status, 401);
  }
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();  // writes the interval's summaries

  std::set<std::string> individual, summarised;
  std::uint64_t counted = 0;
  for (const auto& record : parsedAuditRecords(daemon)) {
    if (record.operation == audit::op::kKeyRefused) individual.insert(record.clientAddress);
    if (record.operation == audit::op::kKeyRefusedSummary) {
      summarised.insert(record.clientAddress);
      counted += std::stoull(record.detail.substr(6, record.detail.find(' ') - 6));
    }
  }
  EXPECT_EQ(individual.size(), static_cast<std::size_t>(kTotal));
  EXPECT_TRUE(individual.contains("10.0.0.1")) << "the client is the forwarded address";
  EXPECT_EQ(summarised.size(), static_cast<std::size_t>(kAddresses - kTotal));
  EXPECT_TRUE(summarised.contains("10.0.0." + std::to_string(kAddresses)));
  EXPECT_EQ(counted, static_cast<std::uint64_t>(kAddresses - kTotal));
}

TEST(AuditRequests, AuditHeadIsNotFoundBeforeTheFirstCheckpoint) {
  Daemon daemon;  // checkpoints every 60 s: none yet in a fresh log
  const auto head = daemon.get("/audit/head");
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.header("cache-control"), "no-store");
}

TEST(AuditRequests, AuditHeadIsTheLatestSignedCheckpointForAnyone) {
  Daemon daemon({.config = {{"audit.checkpoint_interval_s", "1"}}});
  const std::string token = E2eEnvironment::get().tokenFor(E2eEnvironment::newUserId());
  ASSERT_EQ(daemon.sendKey("PUT", token, keyBody(randomKeyBase64(32))).status, 200);

  HttpResponse head;
  for (int i = 0; i < 50 && head.status != 200; ++i) {
    std::this_thread::sleep_for(100ms);
    head = daemon.get("/audit/head");  // anonymous
  }
  ASSERT_EQ(head.status, 200) << head.body;
  EXPECT_EQ(head.header("cache-control"), "no-store");
  EXPECT_EQ(head.header("content-type").rfind("application/json", 0), 0u);

  auto checkpoint = audit::parseRecord(head.body);
  ASSERT_TRUE(checkpoint.isOk()) << head.body << ": " << checkpoint.status().message();
  EXPECT_EQ(checkpoint->operation, audit::op::kCheckpoint);
  const auto lines = daemon.auditLines();
  auto first = audit::parseRecord(lines.front());
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ(checkpoint->instance, first->instance);
  ASSERT_LE(checkpoint->seq, lines.size());
  EXPECT_EQ(lines[checkpoint->seq - 1], head.body) << "the head is the checkpoint's line as logged";

  auto key = audit::CheckpointVerifier::fromPem(readFile(E2eEnvironment::get().auditPublicKey()));
  ASSERT_TRUE(key.isOk());
  EXPECT_EQ(checkpoint->keyId, key->keyId());
  const std::string message = audit::checkpointMessage(*checkpoint);
  const auto signature = decodeBase64(checkpoint->signature);
  ASSERT_TRUE(signature.has_value());
  EXPECT_TRUE(key->verify({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()},
                          *signature));
}

}  // namespace
}  // namespace kc::test
