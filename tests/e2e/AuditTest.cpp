// The audit trail of the real daemon: every release, deposit and refusal with the token
// operation behind it, a log kc-audit verifies with the exported audit key, and fail
// closed — no key leaves while the log cannot be written.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "DaemonFixture.h"

namespace kc::test {
namespace {

// The lines of `lines` that mention `needle`.
std::vector<std::string> linesWith(const std::vector<std::string>& lines,
                                   const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

bool hasRecord(const std::vector<std::string>& lines, const std::string& op,
               const std::string& outcome) {
  for (const auto& line : lines) {
    if (line.find("\"op\":\"" + op + "\"") != std::string::npos &&
        line.find("\"outcome\":\"" + outcome + "\"") != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Audit, ReleaseDepositAndRefusalsAreRecordedWithTheTokenOperation) {
  Daemon daemon;
  const std::string user = E2eEnvironment::newUserId();
  const std::string token = E2eEnvironment::get().tokenFor(user);
  const std::string key = randomKeyBase64(64);
  ASSERT_EQ(daemon.get("/user-keys", token).status, 404);
  ASSERT_EQ(daemon.sendKey("POST", token, keyBody(key)).status, 200);
  ASSERT_EQ(daemon.sendKey("POST", token, keyBody(key)).status, 400);
  ASSERT_EQ(daemon.get("/user-keys", token).status, 200);
  ASSERT_EQ(daemon.get("/user-keys", E2eEnvironment::get().foreignTokenFor(user)).status, 401);
  provisioning::DevTokenClaims noApi;
  noApi.scope = {"profile"};
  ASSERT_EQ(daemon.get("/user-keys", E2eEnvironment::get().tokenFor(user, noApi)).status, 403);

  const auto lines = linesWith(daemon.auditLines(), user);
  EXPECT_TRUE(hasRecord(lines, "key.refused", "not_found"));
  EXPECT_TRUE(hasRecord(lines, "token.wrap", "ok"));
  EXPECT_TRUE(hasRecord(lines, "key.deposit", "ok"));
  EXPECT_TRUE(hasRecord(lines, "key.refused", "rejected"));
  EXPECT_TRUE(hasRecord(lines, "token.unwrap", "ok"));
  EXPECT_TRUE(hasRecord(lines, "key.release", "ok"));
  EXPECT_TRUE(hasRecord(linesWith(lines, "\"status\":403"), "key.refused", "denied"))
      << "a forbidden token is audited against its user";
  const std::string all = readFile(daemon.auditDir() / "audit.log");
  EXPECT_TRUE(hasRecord(linesWith(daemon.auditLines(), "\"status\":401"), "key.refused", "denied"))
      << "a refused token is audited";
  EXPECT_EQ(all.find(key), std::string::npos) << "key material in the audit log";
  EXPECT_EQ(all.find(token.substr(token.rfind('.') + 1)), std::string::npos);
}

TEST(Audit, KcAuditVerifiesTheDaemonsLogWithTheExportedKey) {
  Daemon daemon;
  const std::string user = E2eEnvironment::newUserId();
  const std::string token = E2eEnvironment::get().tokenFor(user);
  ASSERT_EQ(daemon.sendKey("PUT", token, keyBody(randomKeyBase64(32))).status, 200);
  ASSERT_EQ(daemon.get("/user-keys", token).status, 200);
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();  // seals the log with a checkpoint

  auto verified = runProcess({KC_AUDIT_PATH, "verify", "--public-key",
                              E2eEnvironment::get().auditPublicKey().string(),
                              (daemon.auditDir() / "audit.log").string()});
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;

  // One edited byte is caught.
  const auto path = daemon.auditDir() / "audit.log";
  std::string text = readFile(path);
  const auto at = text.find("\"op\":\"key.release\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 18, "\"op\":\"key.refused\"");
  writeFile(path, text);
  auto tampered = runProcess({KC_AUDIT_PATH, "verify", "--public-key",
                              E2eEnvironment::get().auditPublicKey().string(), path.string()});
  EXPECT_EQ(tampered.exitCode, 1) << tampered.out << tampered.err;
}

// The auditor's routine against the real daemon: the head saved from GET /audit/head is
// extended by the log, and every rotated file reached the archive through
// audit.archive_command.
TEST(Audit, SavedHeadVerifiesAndRotatedFilesAreArchived) {
  TempDir scratch{"kc-e2e-archive"};
  const auto archive = scratch.path() / "archive dir";
  std::filesystem::create_directories(archive);
  Daemon daemon({.config = {{"audit.rotate_bytes", "3000"},
                            {"audit.archive_command", "cp %p '" + archive.string() + "/'"}}});
  const std::string user = E2eEnvironment::newUserId();
  const std::string token = E2eEnvironment::get().tokenFor(user);
  ASSERT_EQ(daemon.sendKey("PUT", token, keyBody(randomKeyBase64(32))).status, 200);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(daemon.get("/user-keys", token).status, 200);
  const auto head = daemon.get("/audit/head");
  ASSERT_EQ(head.status, 200) << head.body;
  writeFile(scratch.path() / "head.json", head.body);
  // The rotated files so far (the closing checkpoint may rotate once more: that file is
  // archived at the next start).
  const auto rotatedFiles = [&] {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(daemon.auditDir())) {
      const std::string name = entry.path().filename().string();
      if (entry.path().extension() == ".log" && name != "audit.log") names.push_back(name);
    }
    return names;
  };
  const auto rotated = rotatedFiles();
  EXPECT_GE(rotated.size(), 1u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const auto& name : rotated) {
    while (!std::filesystem::exists(archive / name) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(std::filesystem::exists(archive / name)) << name << "\n" << daemon.log();
    EXPECT_TRUE(std::filesystem::exists(daemon.auditDir() / name)) << "never deleted: " << name;
  }
  ASSERT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();

  std::vector<std::string> args{KC_AUDIT_PATH,
                                "verify",
                                "--public-key",
                                E2eEnvironment::get().auditPublicKey().string(),
                                "--head",
                                (scratch.path() / "head.json").string(),
                                (daemon.auditDir() / "audit.log").string()};
  for (const auto& name : rotatedFiles()) args.push_back((daemon.auditDir() / name).string());
  const auto verified = runProcess(args);
  EXPECT_EQ(verified.exitCode, 0) << verified.out << verified.err;
}

// A 64 KiB file system under the audit directory, filled so that no record fits.
class FullFileSystem {
 public:
  explicit FullFileSystem(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64k") == 0;
  }
  ~FullFileSystem() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  void fill() {
    std::ofstream filler(dir_ / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 64 && filler; ++i) filler << block;
  }
  void drain() { std::filesystem::remove(dir_ / "filler"); }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST(Audit, NoKeyIsReleasedWhileTheLogCannotBeWrittenAndServiceResumesAfter) {
  TempDir dir;
  FullFileSystem disk(dir / "audit");
  if (!disk.mounted()) {
    if (std::getenv("CI") && std::string(std::getenv("CI")) == "true") {
      FAIL() << "cannot mount a small tmpfs (needs root) for the fail-closed test";
    }
    GTEST_SKIP() << "cannot mount a small tmpfs (needs root)";
  }
  Daemon daemon({.config = {{"audit.directory", (dir / "audit").string()}}});
  const std::string user = E2eEnvironment::newUserId();
  const std::string token = E2eEnvironment::get().tokenFor(user);
  const std::string key = randomKeyBase64(64);
  ASSERT_EQ(daemon.sendKey("PUT", token, keyBody(key)).status, 200);

  // The log file's last page may still hold a few records after the disk is full: keep
  // asking until the log refuses, then no key may leave.
  disk.fill();
  int refusedAt = -1;
  for (int i = 0; i < 60 && refusedAt < 0; ++i) {
    auto response = daemon.get("/user-keys", token);
    if (response.status == 503) {
      refusedAt = i;
      EXPECT_EQ(response.body.find(key), std::string::npos) << "a key left unaudited";
    } else {
      ASSERT_EQ(response.status, 200);
    }
  }
  ASSERT_GE(refusedAt, 0) << "the full disk never stopped a release";
  auto refused = daemon.get("/user-keys", token);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.header("Retry-After"), "5");
  EXPECT_EQ(refused.body.find(key), std::string::npos) << "a key left unaudited";
  EXPECT_EQ(daemon.get("/health").status, 503);
  EXPECT_EQ(daemon.sendKey("PUT", token, keyBody(randomKeyBase64(32))).status, 503);

  disk.drain();
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = daemon.get("/health").status;
  }
  EXPECT_EQ(status, 200) << daemon.log();
  auto released = daemon.get("/user-keys", token);
  EXPECT_EQ(released.status, 200);
  EXPECT_EQ(released.body, "{\"key\":\"" + key + "\"}") << "the refused PUT stored nothing";
  const std::string log = readFile(dir / "audit" / "audit.log");
  EXPECT_NE(log.find("\"op\":\"log.recovery\""), std::string::npos) << "the log says it recovered";
}

}  // namespace
}  // namespace kc::test
