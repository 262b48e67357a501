// Several keyconnectord instances over one database, as behind a load balancer: two daemons on
// one PostgreSQL (and one MariaDB) database and one SoftHSM token, each with its own audit
// directory and chain. Under a mixed load one is SIGKILLed and restarted; two start at once on
// an empty database; two write one user at once. docs/deployment.md describes the deployment.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <latch>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "DaemonFixture.h"
#include "support/DatabaseServers.h"

namespace kc::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The back-end a case runs on: "postgresql" or "mysql" (MariaDB).
class ClusterTest : public testing::TestWithParam<std::string> {
 protected:
  // Options for one instance over a database every instance of the case shares. Each Daemon
  // has its own directory, so its own audit directory and instance id.
  DaemonOptions instanceOptions() const {
    return {.databaseProvider = GetParam(), .connectionString = connection_};
  }
  void SetUp() override {
    connection_ = newDatabase();
    if (connection_.empty()) {
      if (databaseServersRequired()) FAIL() << whyNot_;
      GTEST_SKIP() << whyNot_;
    }
  }
  // A connection string to a new, empty database on the case's server; empty if none runs.
  std::string newDatabase() {
    if (GetParam() == "postgresql") {
      if (auto* server = sharedPostgres(whyNot_)) {
        return server->connectionString(server->createDatabase());
      }
    } else if (auto* server = sharedMariaDb(whyNot_)) {
      return server->connectionString(server->createDatabase());
    }
    return {};
  }

  std::string whyNot_;
  std::string connection_;
};

std::string backendName(const testing::TestParamInfo<std::string>& info) {
  return info.param == "postgresql" ? "PostgreSql" : "MariaDb";
}

struct User {
  std::string id;
  std::string token;
  std::string key;  // the value its PUT was acknowledged with
};

User newUser() {
  const std::string id = E2eEnvironment::newUserId();
  return {id, E2eEnvironment::get().tokenFor(id), randomKeyBase64(32)};
}

// One request of the load: where it went, when, and how it ended.
struct Outcome {
  std::size_t instance = 0;
  Clock::time_point sent;
  Clock::time_point ended;
  std::string what;   // "PUT <user>" or "GET <user>"
  int status = 0;     // 0: no HTTP answer (the exception's text is in `error`)
  std::string error;  // why it failed; empty when it succeeded
};

// PUTs of new users and GETs of acknowledged ones from several threads, each thread sending its
// requests to the instances in turn. Every user is written once, so the value its PUT was
// acknowledged with is the only right answer to a GET, from any instance, at any time.
class MixedLoad {
 public:
  explicit MixedLoad(std::vector<const Daemon*> instances) : instances_(std::move(instances)) {}
  ~MixedLoad() { stop(); }

  void start(int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t] {
        std::mt19937 random(static_cast<unsigned>(t) * 7919u + 17u);
        for (std::size_t n = static_cast<std::size_t>(t); !stopping_; ++n) {
          request(n % instances_.size(), random);
        }
      });
    }
  }
  void stop() {
    stopping_ = true;
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  std::vector<User> acknowledged() const {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::vector<Outcome> outcomes() const {
    std::lock_guard lock(mutex_);
    return outcomes_;
  }

 private:
  void request(std::size_t instance, std::mt19937& random) {
    std::optional<User> existing;
    {
      std::lock_guard lock(mutex_);
      if (acknowledged_.size() >= 8 && random() % 5 < 3) {
        existing = acknowledged_[random() % acknowledged_.size()];
      }
    }
    const User user = existing ? *existing : newUser();
    Outcome outcome{
        .instance = instance, .sent = Clock::now(), .what = (existing ? "GET " : "PUT ") + user.id};
    try {
      const Daemon& daemon = *instances_[instance];
      const HttpResponse response = existing ? daemon.get("/user-keys", user.token)
                                             : daemon.sendKey("PUT", user.token, keyBody(user.key));
      outcome.status = response.status;
      if (response.status != 200) {
        outcome.error = "HTTP " + std::to_string(response.status) + " " + response.body;
      } else if (existing && response.body != keyBody(user.key)) {
        outcome.error = "GET answered another value than the acknowledged PUT's";
      }
    } catch (const std::exception& e) {
      outcome.error = std::string("no answer: ") + e.what();
    }
    outcome.ended = Clock::now();
    std::lock_guard lock(mutex_);
    if (!existing && outcome.error.empty()) acknowledged_.push_back(user);
    outcomes_.push_back(std::move(outcome));
  }

  std::vector<const Daemon*> instances_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<User> acknowledged_;
  std::vector<Outcome> outcomes_;
};

std::vector<std::filesystem::path> auditFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") files.push_back(entry.path());
  }
  return files;
}

// kc-audit verify over the audit files of every directory in `dirs`.
ProcessResult verifyAudit(const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::string> argv = {KC_AUDIT_PATH, "verify", "--public-key",
                                   E2eEnvironment::get().auditPublicKey().string()};
  for (const auto& dir : dirs) {
    for (const auto& file : auditFiles(dir)) argv.push_back(file.string());
  }
  return runProcess(argv);
}

// The users of the successful records of operation `op` in the daemon's active audit log.
std::set<std::string> auditedUsers(const Daemon& daemon, const std::string& op) {
  std::set<std::string> users;
  const std::string opField = "\"op\":\"" + op + "\",\"outcome\":\"ok\"";
  const std::string userField = "\"user\":\"";
  for (const auto& line : daemon.auditLines()) {
    if (line.find(opField) == std::string::npos) continue;
    const auto at = line.find(userField);
    if (at == std::string::npos) continue;
    const auto from = at + userField.size();
    users.insert(line.substr(from, line.find('"', from) - from));
  }
  return users;
}

// The id of the daemon's audit chain, as kept in its audit directory.
std::string instanceId(const Daemon& daemon) {
  const std::string text = readFile(daemon.auditDir() / "instance-id");
  return text.substr(0, text.find('\n'));
}

void expectServes(const Daemon& daemon, const User& user, const std::string& instance) {
  const HttpResponse response = daemon.get("/user-keys", user.token);
  EXPECT_EQ(response.status, 200) << instance << ", user " << user.id << ": " << response.body;
  EXPECT_EQ(response.body, keyBody(user.key)) << instance << ", user " << user.id;
}

TEST_P(ClusterTest, EveryAcknowledgedPutSurvivesAnInstanceKilledAndRestartedUnderLoad) {
  // A checkpoint every second, so the killed run has sealed some of its records: its chain then
  // ends in the short unsealed tail a crash leaves, which verify accepts with a warning.
  DaemonOptions options = instanceOptions();
  options.config["audit.checkpoint_interval_s"] = "1";
  Daemon survivor(options);
  Daemon victim(options);
  const std::string victimInstance = instanceId(victim);
  ASSERT_NE(instanceId(survivor), victimInstance) << "each instance must have its own chain";

  // The load balancer's health check of the survivor: it must never take it out of rotation.
  std::atomic<bool> watching{true};
  std::vector<std::string> unhealthy;
  std::thread healthCheck([&] {
    while (watching) {
      try {
        const HttpResponse health = survivor.get("/health");
        if (health.status != 200)
          unhealthy.push_back(std::to_string(health.status) + " " + health.body);
      } catch (const std::exception& e) {
        unhealthy.push_back(e.what());
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  MixedLoad load({&survivor, &victim});
  load.start(4);
  std::this_thread::sleep_for(2500ms);
  const auto killed = Clock::now();
  ASSERT_EQ(victim.stop(SIGKILL), 128 + SIGKILL);
  // The killed run's chain as a crash leaves it, before a restart continues it.
  const ProcessResult crashed = verifyAudit({victim.auditDir()});
  EXPECT_EQ(crashed.exitCode, 0) << crashed.out << crashed.err;
  EXPECT_NE(crashed.out.find("are not sealed"), std::string::npos)
      << "a crash leaves an unsealed tail, reported as a warning:\n"
      << crashed.out;
  // Each PUT it acknowledged has its audit record on disk: the record is durable before the 2xx.
  const std::set<std::string> audited = auditedUsers(victim, "key.replace");
  for (const auto& outcome : load.outcomes()) {
    if (outcome.instance == 1 && outcome.error.empty() && outcome.what.starts_with("PUT ")) {
      EXPECT_TRUE(audited.count(outcome.what.substr(4)))
          << outcome.what << " was acknowledged but its audit record was lost to SIGKILL";
    }
  }
  std::this_thread::sleep_for(1s);  // requests meet the dead instance
  const auto restarting = Clock::now();
  victim.start();
  const auto restarted = Clock::now();
  std::this_thread::sleep_for(2500ms);
  load.stop();
  watching = false;
  healthCheck.join();
  EXPECT_TRUE(unhealthy.empty()) << unhealthy.size()
                                 << " health checks of the survivor failed, first: "
                                 << unhealthy.front();

  const auto outcomes = load.outcomes();
  std::size_t failedWhileDown = 0;
  std::size_t servedAfterRestart = 0;
  for (const auto& outcome : outcomes) {
    if (outcome.error.empty()) {
      servedAfterRestart += outcome.instance == 1 && outcome.sent > restarted ? 1 : 0;
      continue;
    }
    ASSERT_EQ(outcome.instance, 1u)
        << "the surviving instance failed " << outcome.what << ": " << outcome.error;
    // The killed instance: only requests that met it dead, or in flight when it died.
    EXPECT_EQ(outcome.status, 0) << outcome.what << ": " << outcome.error;
    EXPECT_TRUE(outcome.ended >= killed && outcome.sent <= restarted)
        << outcome.what << " failed outside the down window: " << outcome.error;
    ++failedWhileDown;
  }
  EXPECT_GT(servedAfterRestart, 0u) << "the restarted instance served nothing";
  const auto users = load.acknowledged();
  EXPECT_GT(users.size(), 20u);
  for (const auto& user : users) {
    expectServes(survivor, user, "survivor");
    expectServes(victim, user, "restarted instance");
  }
  EXPECT_EQ(survivor.get("/health").status, 200);
  EXPECT_EQ(victim.get("/health").status, 200);
  std::cout << outcomes.size() << " requests, " << users.size() << " acknowledged PUTs, "
            << failedWhileDown << " failed at the killed instance while it was down, "
            << servedAfterRestart << " served by it after its restart, which took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(restarted - restarting).count()
            << " ms to /alive\n";

  // Each chain verifies; the restarted instance continued its own.
  EXPECT_EQ(instanceId(victim), victimInstance);
  EXPECT_EQ(survivor.stop(SIGTERM), 0);
  EXPECT_EQ(victim.stop(SIGTERM), 0);
  for (const Daemon* daemon : {&survivor, &victim}) {
    const ProcessResult verified = verifyAudit({daemon->auditDir()});
    EXPECT_EQ(verified.exitCode, 0) << daemon->auditDir() << "\n" << verified.out << verified.err;
  }
  // An auditor verifies every instance's files in one run: one chain per instance.
  const ProcessResult both = verifyAudit({survivor.auditDir(), victim.auditDir()});
  EXPECT_EQ(both.exitCode, 0) << both.out << both.err;
  for (const Daemon* daemon : {&survivor, &victim}) {
    EXPECT_NE(both.out.find("instance " + instanceId(*daemon) + ":"), std::string::npos)
        << both.out;
  }
  EXPECT_GE(victim.auditCount("log.open"), 2u) << "the restart did not continue the chain";
}

// The number of times `text` occurs in `log`.
std::size_t occurrences(const std::string& log, const std::string& text) {
  std::size_t count = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++count;
  return count;
}

// Runs `first` and `second` on two threads released at the same moment.
template <typename First, typename Second>
void atOnce(First&& first, Second&& second) {
  std::latch ready(2);
  std::thread other([&] {
    ready.arrive_and_wait();
    second();
  });
  ready.arrive_and_wait();
  first();
  other.join();
}

TEST_P(ClusterTest, TwoInstancesStartingAtOnceOnAnEmptyDatabaseBothServe) {
  for (int round = 0; round < 5; ++round) {
    DaemonOptions options = instanceOptions();
    if (round > 0) options.connectionString = newDatabase();
    options.startNow = false;
    Daemon first(options);
    Daemon second(options);
    std::string firstFailure;
    std::string secondFailure;
    auto startCatching = [](Daemon& daemon, std::string& failure) {
      try {
        daemon.start();
      } catch (const std::exception& e) {
        failure = e.what();
      }
    };
    atOnce([&] { startCatching(first, firstFailure); },
           [&] { startCatching(second, secondFailure); });
    ASSERT_EQ(firstFailure, "") << "round " << round;
    ASSERT_EQ(secondFailure, "") << "round " << round;
    // The schema was made once: the migration lock let one instance apply it, the other found
    // it done.
    EXPECT_EQ(occurrences(first.log() + second.log(), "applied schema migration 1 "), 1u)
        << first.log() << second.log();
    const User user = newUser();
    ASSERT_EQ(first.sendKey("PUT", user.token, keyBody(user.key)).status, 200);
    expectServes(second, user, "second instance");
  }
}

TEST_P(ClusterTest, OneUserWrittenOnBothInstancesAtOnceEndsWithOneWholeValue) {
  Daemon first(instanceOptions());
  Daemon second(instanceOptions());
  for (int n = 0; n < 12; ++n) {
    // PUT creates or replaces: both are acknowledged, and the later one is the value.
    User one = newUser();
    User other = one;
    other.key = randomKeyBase64(32);
    HttpResponse fromFirst;
    HttpResponse fromSecond;
    atOnce([&] { fromFirst = first.sendKey("PUT", one.token, keyBody(one.key)); },
           [&] { fromSecond = second.sendKey("PUT", other.token, keyBody(other.key)); });
    EXPECT_EQ(fromFirst.status, 200) << fromFirst.body;
    EXPECT_EQ(fromSecond.status, 200) << fromSecond.body;
    const HttpResponse read = first.get("/user-keys", one.token);
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_TRUE(read.body == keyBody(one.key) || read.body == keyBody(other.key))
        << "neither PUT's value";
    EXPECT_EQ(second.get("/user-keys", one.token).body, read.body);

    // POST creates only: exactly one wins, the other is told the user already has a key.
    User created = newUser();
    User refused = created;
    refused.key = randomKeyBase64(32);
    atOnce([&] { fromFirst = first.sendKey("POST", created.token, keyBody(created.key)); },
           [&] { fromSecond = second.sendKey("POST", refused.token, keyBody(refused.key)); });
    if (fromFirst.status != 200) std::swap(created, refused);
    const HttpResponse& winner = fromFirst.status == 200 ? fromFirst : fromSecond;
    const HttpResponse& loser = fromFirst.status == 200 ? fromSecond : fromFirst;
    EXPECT_EQ(winner.status, 200) << winner.body;
    EXPECT_EQ(loser.status, 400) << loser.body;
    EXPECT_NE(loser.body.find("already has a key"), std::string::npos) << loser.body;
    expectServes(first, created, "first instance");
    expectServes(second, created, "second instance");
  }
}

// Waits up to `timeout` for the daemon's /health to answer `status`; the last answer.
HttpResponse waitForHealth(const Daemon& daemon, int status, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  HttpResponse response;
  while (Clock::now() < deadline) {
    response = daemon.get("/health");
    if (response.status == status) break;
    std::this_thread::sleep_for(100ms);
  }
  return response;
}

TEST_P(ClusterTest, DatabaseOutageShowsOnEveryInstancesHealthAndAllRecover) {
  // What a load balancer sees: while the shared database is down every instance's /health says
  // 503 with Retry-After, as do requests (never a 500 or a wrong key); after it, all serve.
  Daemon first(instanceOptions());
  Daemon second(instanceOptions());
  const User before = newUser();
  ASSERT_EQ(first.sendKey("PUT", before.token, keyBody(before.key)).status, 200);
  std::string whyNot;
  PostgresServer* postgres = GetParam() == "postgresql" ? sharedPostgres(whyNot) : nullptr;
  MariaDbServer* mariaDb = postgres == nullptr ? sharedMariaDb(whyNot) : nullptr;
  auto crash = [&] { postgres != nullptr ? postgres->crash() : mariaDb->crash(); };
  auto restart = [&] { postgres != nullptr ? postgres->restart() : mariaDb->restart(); };
  // The server is shared with the other cases: it comes back even if this one stops early.
  struct RestartAtExit {
    std::function<void()> restart;
    bool done = false;
    ~RestartAtExit() {
      if (!done) restart();
    }
  } restartAtExit{restart};
  crash();
  for (const Daemon* daemon : {&first, &second}) {
    const HttpResponse health = waitForHealth(*daemon, 503, 20s);
    EXPECT_EQ(health.status, 503) << health.body;
    EXPECT_EQ(health.header("Retry-After"), "5");
    const HttpResponse read = daemon->get("/user-keys", before.token);
    EXPECT_EQ(read.status, 503) << read.body;
    EXPECT_EQ(read.header("Retry-After"), "5");
  }
  restart();
  restartAtExit.done = true;
  for (const Daemon* daemon : {&first, &second}) {
    const HttpResponse health = waitForHealth(*daemon, 200, 30s);
    EXPECT_EQ(health.status, 200) << health.body;
  }
  const User after = newUser();
  ASSERT_EQ(second.sendKey("PUT", after.token, keyBody(after.key)).status, 200);
  for (const User& user : {before, after}) {
    expectServes(first, user, "first instance");
    expectServes(second, user, "second instance");
  }
}

INSTANTIATE_TEST_SUITE_P(OneDatabase, ClusterTest, testing::Values("postgresql", "mysql"),
                         backendName);

}  // namespace
}  // namespace kc::test
