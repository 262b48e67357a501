// The tamper suite: kc-audit verify, run as an auditor would, on logs altered in each way
// an attacker might; each must fail and name the right record. An untouched log passes.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "AuditTestSupport.h"
#include "kc/Base64.h"
#include "kc/audit/AuditLog.h"
#include "kc/audit/AuditRecord.h"
#include "support/Subprocess.h"
#include "support/TempDir.h"

namespace kc::audit {
namespace {

// A log of 26 records, one per line (line n holds seq n): log.open, 10 records, a
// checkpoint (line 12), 10 records, a checkpoint (line 23), then 3 unsealed records.
class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = std::make_shared<test::OpenSslSigner>();
    test::writeFile(pem_, signer->publicKeyPem());
    auto log = AuditLog::open({.directory = dir_ / "log",
                               .instance = "kc-1",
                               .signer = signer,
                               .checkpointInterval = {}});
    ASSERT_TRUE(log.isOk()) << log.status().toString();
    int n = 0;
    for (int block = 0; block < 2; ++block) {
      for (int i = 0; i < 10; ++i) ASSERT_TRUE((*log)->append(test::sampleRecord(++n)).isOk());
      ASSERT_TRUE((*log)->checkpoint("manual").isOk());
    }
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*log)->append(test::sampleRecord(++n)).isOk());
    // Not closed: a closing checkpoint would seal the tail this suite needs unsealed.
    lines_ = test::readLines((*log)->activePath());
    ASSERT_EQ(lines_.size(), 26u);
    ASSERT_EQ(parseRecord(lines_[11])->operation, op::kCheckpoint);
    ASSERT_EQ(parseRecord(lines_[22])->operation, op::kCheckpoint);
    stranger_ = std::make_unique<test::OpenSslSigner>();
  }

  // Writes `lines` as audit.log in a fresh directory and runs kc-audit verify on it.
  test::ProcessResult verify(const std::vector<std::string>& lines) {
    const auto file = dir_ / "tampered" / "audit.log";
    std::filesystem::create_directories(file.parent_path());
    test::writeLines(file, lines);
    return test::runProcess(
        {test::kcAuditPath(), "verify", "--public-key", pem_.string(), file.string()});
  }

  // Writes `heads` as a head file and runs kc-audit verify --head on `lines` as audit.log.
  test::ProcessResult verifyAgainst(const std::vector<std::string>& lines,
                                    const std::vector<std::string>& heads) {
    const auto file = dir_ / "tampered" / "audit.log";
    std::filesystem::create_directories(file.parent_path());
    test::writeLines(file, lines);
    test::writeLines(headFile_, heads);
    return test::runProcess({test::kcAuditPath(), "verify", "--public-key", pem_.string(), "--head",
                             headFile_.string(), file.string()});
  }

  // `lines` from line `from` on rewritten and re-chained by an insider, checkpoints re-signed
  // with `signer`: the user of line `from` becomes mallory.
  std::vector<std::string> rewrite(std::vector<std::string> lines, int from,
                                   test::OpenSslSigner& signer) const {
    for (auto i = static_cast<std::size_t>(from - 1); i < lines.size(); ++i) {
      AuditRecord r = *parseRecord(lines[i]);
      if (i == static_cast<std::size_t>(from - 1)) r.userId = "mallory";
      r.prev = lineHash(lines[i - 1]);
      if (r.operation == op::kCheckpoint) {
        r.keyId = signer.keyId();
        const std::string message = checkpointMessage(r);
        r.signature = encodeBase64(
            *signer.sign({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()}));
      }
      lines[i] = serialize(r);
    }
    return lines;
  }

  // How a finding's location ends for line `line` of the file: "<dir>/audit.log:<line>".
  static std::string at(int line) { return "/audit.log:" + std::to_string(line); }

  static bool hasFinding(const test::ProcessResult& result, const std::string& severity,
                         const std::string& where, const std::string& what) {
    std::istringstream out(result.out);
    for (std::string line; std::getline(out, line);) {
      if (line.rfind(severity + " ", 0) != 0) continue;
      const std::string location = line.substr(
          severity.size() + 1, line.find(' ', severity.size() + 1) - severity.size() - 1);
      if (location.size() >= where.size() &&
          location.compare(location.size() - where.size(), where.size(), where) == 0 &&
          line.find(what) != std::string::npos)
        return true;
    }
    return false;
  }

  static void expectFinding(const test::ProcessResult& result, const std::string& where,
                            const std::string& what) {
    EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
    EXPECT_TRUE(hasFinding(result, "ERROR", where, what))
        << "expected an ERROR at " << where << " saying '" << what << "' in:\n"
        << result.out;
  }

  static void expectWarning(const test::ProcessResult& result, const std::string& where,
                            const std::string& what) {
    EXPECT_TRUE(hasFinding(result, "WARNING", where, what))
        << "expected a WARNING at " << where << " saying '" << what << "' in:\n"
        << result.out;
  }

  AuditRecord record(int line) const {
    return *parseRecord(lines_[static_cast<std::size_t>(line - 1)]);
  }

  test::TempDir dir_{"kc-audit-tamper"};
  std::filesystem::path pem_ = dir_ / "audit.pem";
  std::vector<std::string> lines_;
  std::unique_ptr<test::OpenSslSigner> stranger_;
  std::filesystem::path headFile_ = dir_ / "head.json";
};

TEST_F(TamperTest, UntouchedLogPassesAndWarnsAboutItsUnsealedTail) {
  const auto result = verify(lines_);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(result.out.find("ERROR"), std::string::npos) << result.out;
  expectWarning(result, at(24), "3 record(s) after the last checkpoint");
  expectWarning(result, at(24), "/audit.log:23, seq 23) are not sealed");
  EXPECT_NE(result.out.find("INTACT"), std::string::npos);
}

TEST_F(TamperTest, EditedFieldIsReportedAtTheEditedRecord) {
  auto lines = lines_;
  const auto original = record(5).userId;
  lines[4].replace(lines[4].find(original), original.size(), "mallory");
  expectFinding(verify(lines), at(5), "record altered");
}

TEST_F(TamperTest, EditedFormattingIsReportedAtTheEditedRecord) {
  auto lines = lines_;
  lines[6].insert(lines[6].find("\"op\""), " ");
  expectFinding(verify(lines), at(7), "not a valid audit record");
}

TEST_F(TamperTest, DeletedRecordIsReportedBySequenceNumber) {
  auto lines = lines_;
  lines.erase(lines.begin() + 5);  // seq 6
  expectFinding(verify(lines), at(6), "seq 6 missing");
}

TEST_F(TamperTest, InsertedRecordWithAValidLinkIsReportedAtTheInsertion) {
  // A forger who knows the format: seq and prev are right for the position it takes.
  AuditRecord forged = record(8);
  forged.seq = 9;
  forged.prev = lineHash(lines_[7]);
  forged.userId = "mallory";
  forged.requestId = "forged";
  auto lines = lines_;
  lines.insert(lines.begin() + 8, serialize(forged));  // becomes line 9
  expectFinding(verify(lines), at(9), "inserted record");
}

TEST_F(TamperTest, InsertedCopyOfARecordIsReportedAsADuplicate) {
  auto lines = lines_;
  lines.insert(lines.begin() + 16, lines_[3]);  // line 17: a copy of line 4
  expectFinding(verify(lines), at(17), "/audit.log:4: inserted copy");
}

TEST_F(TamperTest, ReorderedRecordsAreReportedWithBothPositions) {
  auto lines = lines_;
  std::swap(lines[13], lines[14]);  // seq 15 now on line 14, seq 14 on line 15
  const auto result = verify(lines);
  expectFinding(result, at(14), "out of order");
  expectFinding(result, at(14), "/audit.log:15,");  // the record it follows
}

TEST_F(TamperTest, ForgedCheckpointSignatureIsReportedAtTheCheckpoint) {
  AuditRecord checkpoint = record(12);
  const std::string message = checkpointMessage(checkpoint);
  auto signature =
      stranger_->sign({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
  ASSERT_TRUE(signature.isOk());
  checkpoint.signature = encodeBase64(*signature);
  auto lines = lines_;
  lines[11] = serialize(checkpoint);
  lines[12] = [&] {
    AuditRecord next = record(13);
    next.prev = lineHash(lines[11]);  // the forger re-links the next record too
    return serialize(next);
  }();
  expectFinding(verify(lines), at(12), "signature does not verify");
}

TEST_F(TamperTest, CheckpointSignedByAnotherKeyIsReportedAtTheCheckpoint) {
  AuditRecord checkpoint = record(23);
  checkpoint.keyId = stranger_->keyId();
  auto lines = lines_;
  lines[22] = serialize(checkpoint);
  expectFinding(verify(lines), at(23), "forged checkpoint");
}

TEST_F(TamperTest, RemovedCheckpointIsReportedBySequenceNumber) {
  auto lines = lines_;
  lines.erase(lines.begin() + 11);  // the checkpoint, seq 12
  expectFinding(verify(lines), at(12), "seq 12 missing");
}

TEST_F(TamperTest, TruncatedTailAfterTheLastCheckpointIsAWarningThatSaysSo) {
  auto lines = lines_;
  lines.resize(24);  // seq 25 and 26 cut off: nothing can tell
  const auto result = verify(lines);
  EXPECT_EQ(result.exitCode, 0) << result.out;
  expectWarning(result, at(24), "1 record(s) after the last checkpoint");
  expectWarning(result, at(24), "could not be detected");
}

TEST_F(TamperTest, TruncationThroughACheckpointLeavesEverythingAfterThePreviousOneUnsealed) {
  auto lines = lines_;
  lines.resize(20);
  const auto result = verify(lines);
  EXPECT_EQ(result.exitCode, 0) << result.out;
  expectWarning(result, at(13), "8 record(s) after the last checkpoint");
  expectWarning(result, at(13), "/audit.log:12, seq 12)");
}

TEST_F(TamperTest, GarbageLineIsReportedWhereItIs) {
  auto lines = lines_;
  lines[2] = "{\"v\":1,\"seq\":3,\"oops\":true}";
  expectFinding(verify(lines), at(3), "not a valid audit record");
}

TEST_F(TamperTest, MissingFirstRecordsAreReported) {
  auto lines = lines_;
  lines.erase(lines.begin(), lines.begin() + 2);
  expectFinding(verify(lines), at(1), "seq 1..2 missing");
}

TEST_F(TamperTest, WithoutThePublicKeyVerifyRefusesUnlessToldWhatItCannotProve) {
  const auto file = dir_ / "plain" / "audit.log";
  std::filesystem::create_directories(file.parent_path());
  test::writeLines(file, lines_);
  auto result = test::runProcess({test::kcAuditPath(), "verify", file.string()});
  EXPECT_EQ(result.exitCode, 2) << result.out;
  EXPECT_NE(result.err.find("--public-key"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--no-signatures"), std::string::npos) << result.err;

  // The hash chain alone can be checked, and the output says loudly what that cannot prove.
  result = test::runProcess({test::kcAuditPath(), "verify", "--no-signatures", file.string()});
  EXPECT_EQ(result.exitCode, 0) << result.out;
  EXPECT_NE(result.out.find("signatures were NOT checked"), std::string::npos) << result.out;
}

TEST_F(TamperTest, AChainWithoutAnyCheckpointFails) {
  std::vector<std::string> unsealed;
  for (std::size_t i = 0; i < 11; ++i) unsealed.push_back(lines_[i]);  // cut before line 12
  const auto result = verify(unsealed);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("no valid checkpoint"), std::string::npos) << result.out;
}

// Cutting the log just after an interval checkpoint and also removing the checkpoints that
// followed leaves a tail that spans far more than the interval: it fails.
TEST_F(TamperTest, AnUnsealedTailSpanningMoreThanTheIntervalFails) {
  std::vector<std::string> lines(lines_.begin(), lines_.begin() + 12);  // through checkpoint 1
  for (int i = 0; i < 3; ++i) {
    // Records an hour after the checkpoint, properly chained (an insider re-chaining them).
    AuditRecord record = *parseRecord(lines_[12 + static_cast<std::size_t>(i)]);
    record.seq = 13 + static_cast<std::uint64_t>(i);
    record.prev = lineHash(lines.back());
    record.timeMicros = parseRecord(lines_[11])->timeMicros + 3'600'000'000LL;
    lines.push_back(serialize(record));
  }
  auto result = verify(lines);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("checkpoints are missing from the tail"), std::string::npos)
      << result.out;
  // Told the daemon checkpoints every two hours, the same tail is only unsealed.
  const auto file = dir_ / "tampered" / "audit.log";
  result = test::runProcess({test::kcAuditPath(), "verify", "--public-key", pem_.string(),
                             "--checkpoint-interval", "7200", file.string()});
  EXPECT_EQ(result.exitCode, 0) << result.out;
}

// A restart after a downtime longer than the interval: the new run's log.open comes long after
// the close of the one before, and its records are not yet sealed. The daemon could seal
// nothing while it was down, so the tail is measured from the restart: the log passes.
TEST_F(TamperTest, AnUnsealedTailAfterARestartIsMeasuredFromTheRestart) {
  std::vector<std::string> lines(lines_.begin(), lines_.begin() + 12);  // through checkpoint 1
  const std::int64_t restart = parseRecord(lines_[11])->timeMicros + 3'600'000'000LL;
  for (int i = 0; i < 3; ++i) {
    AuditRecord record = *parseRecord(lines_[12 + static_cast<std::size_t>(i)]);
    if (i == 0) {
      record.operation = std::string(op::kLogOpen);
      record.detail = "continuing chain after seq 12";
    }
    record.seq = 13 + static_cast<std::uint64_t>(i);
    record.prev = lineHash(lines.back());
    record.timeMicros = restart + i * 1'000'000LL;
    lines.push_back(serialize(record));
  }
  auto result = verify(lines);
  EXPECT_EQ(result.exitCode, 0) << result.out;
  expectWarning(result, at(13), "are not sealed");
  // The same records an interval and more after the restart are a tail missing checkpoints.
  AuditRecord late = *parseRecord(lines.back());
  late.seq = 16;
  late.prev = lineHash(lines.back());
  late.timeMicros = restart + 3'600'000'000LL;
  lines.push_back(serialize(late));
  result = verify(lines);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("checkpoints are missing from the tail"), std::string::npos)
      << result.out;
}

TEST_F(TamperTest, HeadOfAnUntouchedLogIsItsLastCheckpointAndTheLogVerifiesAgainstIt) {
  const auto file = dir_ / "plain" / "audit.log";
  std::filesystem::create_directories(file.parent_path());
  test::writeLines(file, lines_);
  const auto head =
      test::runProcess({test::kcAuditPath(), "head", "--public-key", pem_.string(), file.string()});
  ASSERT_EQ(head.exitCode, 0) << head.out << head.err;
  EXPECT_EQ(head.out, lines_[22] + "\n");
  test::writeFile(headFile_, head.out);
  const auto result =
      test::runProcess({test::kcAuditPath(), "verify", "--public-key", pem_.string(), "--head",
                        headFile_.string(), file.string()});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(result.out.find("ERROR"), std::string::npos) << result.out;
}

TEST_F(TamperTest, EveryEarlierHeadIsExtendedByTheUntouchedLog) {
  // Both checkpoints, the last without its '\n' (as curl saves GET /audit/head).
  test::writeFile(headFile_, lines_[11] + "\n\n" + lines_[22]);
  const auto file = dir_ / "plain" / "audit.log";
  std::filesystem::create_directories(file.parent_path());
  test::writeLines(file, lines_);
  const auto result =
      test::runProcess({test::kcAuditPath(), "verify", "--public-key", pem_.string(), "--head",
                        headFile_.string(), file.string()});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
}

// Cut just after an interval checkpoint, the log alone is intact (nothing unsealed); a head
// saved later proves the cut and names the first record cut away.
TEST_F(TamperTest, TailCutJustAfterACheckpointFailsAgainstALaterSavedHead) {
  const std::vector<std::string> cut(lines_.begin(), lines_.begin() + 12);
  EXPECT_EQ(verify(cut).exitCode, 0);
  expectFinding(verifyAgainst(cut, {lines_[22]}), "head.json:1",
                "the log was cut before the saved head");
  expectFinding(verifyAgainst(cut, {lines_[22]}), "head.json:1", "first missing seq 13");
}

TEST_F(TamperTest, RecordsDeletedUpToTheHeadAreNamedByTheFirstMissingSeq) {
  std::vector<std::string> lines(lines_.begin(), lines_.begin() + 4);
  lines.insert(lines.end(), lines_.begin() + 23, lines_.end());  // seq 5..23 gone
  expectFinding(verifyAgainst(lines, {lines_[22]}), "head.json:1", "first missing seq 5");
}

// An insider rewrites records before the head, re-chains everything after them and re-signs
// the checkpoints with a key of their own: against the head, the rewrite shows.
TEST_F(TamperTest, ARewriteAfterTheHeadWasSavedFailsEvenWhenReSigned) {
  const auto rewritten = rewrite(lines_, 5, *stranger_);
  const auto result = verifyAgainst(rewritten, {lines_[22]});
  expectFinding(result, at(23), "rewritten after the saved head");
  expectFinding(result, at(23), "seq 23");
  // Even an auditor handed the forger's public key sees it: the head is not theirs.
  test::writeFile(pem_, stranger_->publicKeyPem());
  expectFinding(verifyAgainst(rewritten, {lines_[22]}), "head.json:1", "forged head");
}

TEST_F(TamperTest, AForgedHeadIsReported) {
  AuditRecord head = record(23);
  head.seq = 40;  // claims more than the log holds
  const std::string message = checkpointMessage(head);
  head.signature = encodeBase64(
      *stranger_->sign({reinterpret_cast<const std::uint8_t*>(message.data()), message.size()}));
  expectFinding(verifyAgainst(lines_, {serialize(head)}), "head.json:1", "forged head");
}

TEST_F(TamperTest, AHeadFileThatHoldsNoCheckpointIsAUsageError) {
  EXPECT_EQ(verifyAgainst(lines_, {lines_[3]}).exitCode, 2);
  EXPECT_EQ(verifyAgainst(lines_, {"{\"not\":\"a head\"}"}).exitCode, 2);
  EXPECT_EQ(verifyAgainst(lines_, {}).exitCode, 2);
}

TEST_F(TamperTest, HeadRefusesALogThatDoesNotVerify) {
  auto lines = lines_;
  lines.erase(lines.begin() + 5);
  const auto file = dir_ / "tampered" / "audit.log";
  std::filesystem::create_directories(file.parent_path());
  test::writeLines(file, lines);
  const auto head =
      test::runProcess({test::kcAuditPath(), "head", "--public-key", pem_.string(), file.string()});
  EXPECT_EQ(head.exitCode, 1) << head.out;
  EXPECT_TRUE(head.out.empty()) << head.out;
  EXPECT_NE(head.err.find("seq 6 missing"), std::string::npos) << head.err;
}

class ChainsTest : public ::testing::Test {
 protected:
  test::TempDir dir_{"kc-audit-chains"};
  std::shared_ptr<test::OpenSslSigner> signer_ = std::make_shared<test::OpenSslSigner>();
  std::filesystem::path pem_ = dir_ / "audit.pem";

  void SetUp() override { test::writeFile(pem_, signer_->publicKeyPem()); }

  // One run of `instance`: `records` records, a manual checkpoint after every
  // `checkpointEvery` of them (0: none), then a clean close. The paths of its files afterwards.
  std::vector<std::string> writeLog(const std::string& instance, int records,
                                    std::uint64_t rotateBytes, int checkpointEvery = 0) {
    auto log = AuditLog::open({.directory = dir_ / instance,
                               .instance = instance,
                               .signer = signer_,
                               .checkpointInterval = {},
                               .rotateBytes = rotateBytes});
    EXPECT_TRUE(log.isOk());
    for (int i = 0; i < records; ++i) {
      EXPECT_TRUE((*log)->append(test::sampleRecord(i)).isOk());
      if (checkpointEvery > 0 && (i + 1) % checkpointEvery == 0) {
        EXPECT_TRUE((*log)->checkpoint("manual").isOk());
      }
    }
    EXPECT_TRUE((*log)->close().isOk());
    std::vector<std::string> paths;
    for (const auto& path : test::logFiles(dir_ / instance)) paths.push_back(path.string());
    return paths;
  }

  test::ProcessResult verify(std::vector<std::string> files) {
    files.insert(files.begin(), {test::kcAuditPath(), "verify", "--public-key", pem_.string()});
    return test::runProcess(files);
  }

  // kc-audit head on `files`, saved as head file `name`.
  std::filesystem::path saveHead(std::vector<std::string> files, const std::string& name) {
    files.insert(files.begin(), {test::kcAuditPath(), "head", "--public-key", pem_.string()});
    const auto result = test::runProcess(files);
    EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
    const auto path = dir_ / name;
    test::writeFile(path, result.out);
    return path;
  }

  // The seqs of the records in `file`.
  static std::set<std::uint64_t> seqsIn(const std::string& file) {
    std::set<std::uint64_t> seqs;
    for (const auto& line : test::readLines(file)) seqs.insert(parseRecord(line)->seq);
    return seqs;
  }
};

TEST_F(ChainsTest, SeveralInstancesRotatedLogsVerifyTogetherInAnyOrder) {
  auto files = writeLog("kc-a", 40, 3000);
  const auto other = writeLog("kc-b", 25, 0);
  ASSERT_GE(files.size(), 3u);
  files.insert(files.begin() + 1, other.begin(), other.end());
  std::reverse(files.begin(), files.end());
  const auto result = verify(files);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("instance kc-a: "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("instance kc-b: 27 record(s)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("0 unsealed"), std::string::npos) << result.out;
}

TEST_F(ChainsTest, AMissingRotatedFileIsReportedAsDeletedRecords) {
  auto files = writeLog("kc-a", 40, 3000);
  ASSERT_GE(files.size(), 4u);
  // Files sort as audit-kc-a-<time>-<last seq>.log..., audit.log last; drop a middle one.
  std::vector<std::string> rotated(files.begin(), files.end() - 1);
  std::sort(rotated.begin(), rotated.end(), [](const auto& a, const auto& b) {
    auto seq = [](const std::string& p) {
      const auto dash = p.rfind('-');
      return std::stoul(p.substr(dash + 1));
    };
    return seq(a) < seq(b);
  });
  const std::string dropped = rotated[1];
  std::erase(files, dropped);
  const auto result = verify(files);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("records deleted"), std::string::npos) << result.out;
}

// The cheapest insider attack on a rotating log: delete the live audit.log and keep the rotated
// files. The last rotated file's checkpoint names the seq its successor starts at.
TEST_F(ChainsTest, DeletingTheNewestFileIsReportedAtTheRotationThatNamesIt) {
  auto files = writeLog("kc-a", 40, 3000);
  ASSERT_GE(files.size(), 3u);
  ASSERT_EQ(std::filesystem::path(files.back()).filename(), "audit.log");
  files.pop_back();
  const auto result = verify(files);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("the chain stops at a rotation"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("the newest file was deleted"), std::string::npos) << result.out;
}

// The newest rotated file of a run, by the seq its name ends in.
std::string newestRotated(const std::vector<std::string>& files) {
  std::string newest;
  std::uint64_t newestSeq = 0;
  for (const auto& file : files) {
    const std::string name = std::filesystem::path(file).filename().string();
    if (name == "audit.log") continue;
    const std::uint64_t seq = std::stoull(name.substr(name.rfind('-') + 1));
    if (seq > newestSeq) newestSeq = seq, newest = file;
  }
  return newest;
}

// The insider goes further: deletes audit.log and cuts the newest rotated file back to a
// checkpoint, so the chain ends sealed. The file's name still says where it ended.
TEST_F(ChainsTest, NewestFileDeletedAndTheRotatedOneCutBackToACheckpointFails) {
  auto files = writeLog("kc-a", 60, 3000, 4);
  ASSERT_GE(files.size(), 3u);
  ASSERT_EQ(std::filesystem::path(files.back()).filename(), "audit.log");
  std::filesystem::remove(files.back());
  files.pop_back();
  const std::string victim = newestRotated(files);
  auto lines = test::readLines(victim);
  std::size_t keep = lines.size() - 1;  // drop the rotation checkpoint ...
  while (keep > 0 && parseRecord(lines[keep - 1])->operation != op::kCheckpoint) --keep;
  ASSERT_GT(keep, 0u) << "the rotated file holds no checkpoint before its rotation";
  const std::uint64_t named = *seqsIn(victim).rbegin();
  lines.resize(keep);  // ... and what follows the checkpoint before it
  test::writeLines(victim, lines);
  const std::uint64_t cutTo = parseRecord(lines.back())->seq;

  auto result = verify(files);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("name says its last record is seq " + std::to_string(named) +
                            ", but it ends at seq " + std::to_string(cutTo)),
            std::string::npos)
      << result.out;

  // Renamed to match its new end, it still has a rotated name without the checkpoint of a
  // clean stop: the file that continued it is missing.
  auto renamed = victim.substr(0, victim.rfind('-') + 1) + std::to_string(cutTo) + ".log";
  std::filesystem::rename(victim, renamed);
  std::replace(files.begin(), files.end(), victim, renamed);
  result = verify(files);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("does not end in the rotation checkpoint that sealed it"),
            std::string::npos)
      << result.out;
}

// Every run ends audit.log in a close checkpoint, even when the last record was a checkpoint
// already, so a file cut back to a checkpoint can be told from a stopped one.
TEST_F(ChainsTest, EveryCleanStopEndsInACloseCheckpoint) {
  writeLog("kc-a", 4, 0, 4);  // the last record is a manual checkpoint
  const auto files = writeLog("kc-a", 8, 0, 4);
  ASSERT_EQ(files.size(), 1u);
  const auto lines = test::readLines(files.front());
  std::size_t closes = 0;
  for (const auto& line : lines) {
    const auto record = *parseRecord(line);
    if (record.operation == op::kCheckpoint && record.detail.starts_with("close;")) ++closes;
  }
  EXPECT_EQ(closes, 2u);
  const auto last = *parseRecord(lines.back());
  EXPECT_EQ(last.operation, op::kCheckpoint);
  EXPECT_TRUE(last.detail.starts_with("close;")) << last.detail;
  EXPECT_EQ(verify(files).exitCode, 0);

  // Nor does the close checkpoint rotate a file that has grown past the limit: the run's
  // last file is audit.log, ending in it.
  const auto rotating = writeLog("kc-r", 10, 1);
  ASSERT_EQ(std::filesystem::path(rotating.back()).filename(), "audit.log");
  const auto closed = *parseRecord(test::readLines(rotating.back()).back());
  EXPECT_TRUE(closed.detail.starts_with("close;")) << closed.detail;
  EXPECT_EQ(verify(rotating).exitCode, 0) << verify(rotating).out;
}

// A restart after a rotation continues the chain: the untouched log of several runs verifies.
TEST_F(ChainsTest, RestartsAfterRotationsVerifyAsOneChain) {
  writeLog("kc-a", 30, 2500);
  writeLog("kc-a", 30, 2500);
  const auto files = writeLog("kc-a", 5, 0);
  const auto result = verify(files);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("instance kc-a: "), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("instance kc-a-"), std::string::npos) << "one chain: " << result.out;
}

// A rotated file swapped for an older copy of itself (the same file before its last records
// and its rotation checkpoint were written) loses records the next file follows.
TEST_F(ChainsTest, ARotatedFileReplacedByAnOlderShorterCopyFails) {
  const auto files = writeLog("kc-a", 40, 3000);
  ASSERT_GE(files.size(), 3u);
  const auto& victim = files.front();
  ASSERT_NE(std::filesystem::path(victim).filename(), "audit.log");
  auto lines = test::readLines(victim);
  ASSERT_GE(lines.size(), 4u);
  lines.resize(lines.size() / 2);
  test::writeLines(victim, lines);
  const auto result = verify(files);
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("records deleted"), std::string::npos) << result.out;
}

// Every file holding a record of the second run is deleted; the head saved after that run
// names the first record that is gone.
TEST_F(ChainsTest, AWholeRunsFilesDeletedFailAgainstAHeadSavedAfterThatRun) {
  const auto firstRun = writeLog("kc-a", 30, 2500);
  const std::uint64_t firstRunEnd = *seqsIn(firstRun.back()).rbegin();
  const auto secondRun = writeLog("kc-a", 30, 2500);
  const std::uint64_t secondRunEnd = *seqsIn(secondRun.back()).rbegin();
  const auto head = saveHead(secondRun, "head-after-run-2.json");
  const auto files = writeLog("kc-a", 30, 2500);
  std::vector<std::string> kept;
  std::set<std::uint64_t> present;
  for (const auto& file : files) {
    const auto seqs = seqsIn(file);
    if (seqs.lower_bound(firstRunEnd + 1) != seqs.upper_bound(secondRunEnd)) continue;
    kept.push_back(file);
    present.insert(seqs.begin(), seqs.end());
  }
  ASSERT_LT(kept.size(), files.size());
  std::uint64_t firstMissing = 1;
  while (present.contains(firstMissing)) ++firstMissing;
  const auto result = test::runProcess([&] {
    std::vector<std::string> args{test::kcAuditPath(), "verify", "--public-key",
                                  pem_.string(),       "--head", head.string()};
    args.insert(args.end(), kept.begin(), kept.end());
    return args;
  }());
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_NE(result.out.find("first missing seq " + std::to_string(firstMissing)), std::string::npos)
      << result.out;
  // The untouched files extend the same head.
  const auto all = test::runProcess([&] {
    std::vector<std::string> args{test::kcAuditPath(), "verify", "--public-key",
                                  pem_.string(),       "--head", head.string()};
    args.insert(args.end(), files.begin(), files.end());
    return args;
  }());
  EXPECT_EQ(all.exitCode, 0) << all.out;
}

TEST_F(ChainsTest, HeadPrintsOneLinePerInstance) {
  const auto a = writeLog("kc-a", 40, 3000);
  auto files = writeLog("kc-b", 5, 0);
  files.insert(files.end(), a.begin(), a.end());
  const auto head = saveHead(files, "heads.json");
  const auto lines = test::readLines(head);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parseRecord(lines[0])->instance, "kc-a");
  EXPECT_EQ(parseRecord(lines[1])->instance, "kc-b");
  // kc-a's head is its latest checkpoint, a line of one of its files.
  EXPECT_EQ(parseRecord(lines[0])->operation, op::kCheckpoint);
  std::uint64_t latestCheckpoint = 0;
  bool inTheFiles = false;
  for (const auto& file : a) {
    for (const auto& line : test::readLines(file)) {
      const auto r = parseRecord(line);
      if (r->operation == op::kCheckpoint) latestCheckpoint = std::max(latestCheckpoint, r->seq);
      inTheFiles = inTheFiles || line == lines[0];
    }
  }
  EXPECT_TRUE(inTheFiles);
  EXPECT_EQ(parseRecord(lines[0])->seq, latestCheckpoint);
  files.insert(files.begin(), {test::kcAuditPath(), "verify", "--public-key", pem_.string(),
                               "--head", head.string()});
  EXPECT_EQ(test::runProcess(files).exitCode, 0);
}

TEST(KcAuditCli, EveryCommandHasHelpAndBadUsageExitsTwo) {
  for (const char* command : {"verify", "head", "show", "export", "report"}) {
    const auto help = test::runProcess({test::kcAuditPath(), command, "--help"});
    EXPECT_EQ(help.exitCode, 0) << command;
    EXPECT_NE(help.out.find("Usage: kc-audit " + std::string(command)), std::string::npos);
  }
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "--help"}).exitCode, 0);
  EXPECT_EQ(test::runProcess({test::kcAuditPath()}).exitCode, 2);
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "frobnicate"}).exitCode, 2);
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "verify", "--bogus", "x"}).exitCode, 2);
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "verify"}).exitCode, 2);
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "verify", "/nonexistent/audit.log"}).exitCode,
            2);
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "export", "--format", "xml", "x"}).exitCode, 2);
  EXPECT_EQ(test::runProcess({test::kcAuditPath(), "report", "x"}).exitCode, 2);
}

}  // namespace
}  // namespace kc::audit
