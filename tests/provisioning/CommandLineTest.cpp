// The command line kc-setup and kc-audit share (kc/cli): parsing flags and positional
// arguments, the --help text made from a command's spec, and choosing the command.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "kc/Version.h"
#include "kc/cli/CommandLine.h"
#include "kc/cli/Tool.h"

namespace kc::cli {
namespace {

CommandSpec keyVerify() {
  return {
      "key", "verify", "Check a key.", "", {{"--key", "URI", "a key"}, {"--if-missing", "", "sw"}}};
}

CommandSpec auditVerify() {
  return {.group = "verify",
          .summary = "Check logs.",
          .flags = {{"--public-key", "PEM", "the key"},
                    {"--head", "HEADFILE", "a saved head", true},
                    {"--no-signatures", "", "chain only"},
                    {"--pin-file", "FILE", "a PIN"}},
          .operands = "FILE...",
          .minOperands = 1};
}

Result<ParsedFlags> parse(const CommandSpec& spec, std::vector<std::string> args) {
  return parseFlags(spec, args);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CommandLineTest, AcceptsSpaceAndEqualsSeparatedValuesAndSwitches) {
  auto spaced = parse(keyVerify(), {"--key", "pkcs11:token=a", "--if-missing"});
  ASSERT_TRUE(spaced.isOk()) << spaced.status().toString();
  EXPECT_EQ(spaced->value("--key"), "pkcs11:token=a");
  EXPECT_TRUE(spaced->has("--if-missing"));
  EXPECT_EQ(spaced->value("--if-missing"), "");
  auto joined = parse(keyVerify(), {"--key=pkcs11:token=a;object=b"});
  ASSERT_TRUE(joined.isOk()) << joined.status().toString();
  EXPECT_EQ(joined->value("--key"), "pkcs11:token=a;object=b");
  EXPECT_FALSE(joined->has("--if-missing"));
  EXPECT_EQ(joined->value("--if-missing"), std::nullopt);
}

TEST(CommandLineTest, KeepsEveryValueOfARepeatableFlagInOrder) {
  auto parsed =
      parse(auditVerify(), {"--head", "a.json", "log", "--head=b.json", "--head", "a.json"});
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->values("--head"), (std::vector<std::string>{"a.json", "b.json", "a.json"}));
  EXPECT_EQ(parsed->value("--head"), "a.json");
  EXPECT_TRUE(parsed->values("--public-key").empty());
}

TEST(CommandLineTest, RefusesARepeatedFlagValuesOnSwitchesAndMissingOrEmptyValues) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--key", "a", "--key", "b"}, "--key is given more than once"},
      {{"--if-missing", "--if-missing"}, "--if-missing is given more than once"},
      {{"--if-missing=yes"}, "--if-missing takes no value"},
      {{"--key="}, "--key needs a non-empty value: --key URI"},
      {{"--key"}, "--key needs a value: --key URI"},
      {{"--key", "--if-missing"}, "--key needs a value: --key URI"},
  };
  for (const auto& [args, message] : cases) {
    auto parsed = parse(keyVerify(), args);
    ASSERT_FALSE(parsed.isOk()) << args[0];
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), message);
  }
}

TEST(CommandLineTest, TakesPositionalArgumentsOnlyWhenTheCommandDeclaresThem) {
  auto files = parse(auditVerify(), {"a.log", "--no-signatures", "b.log", "-"});
  ASSERT_TRUE(files.isOk()) << files.status().toString();
  EXPECT_EQ(files->operands(), (std::vector<std::string>{"a.log", "b.log", "-"}));
  EXPECT_TRUE(files->has("--no-signatures"));

  auto stray = parse(keyVerify(), {"--key", "k", "extra"});
  ASSERT_FALSE(stray.isOk());
  EXPECT_EQ(stray.status().message(),
            "unexpected argument #3 to 'key verify': every value follows its flag");
}

TEST(CommandLineTest, RequiresTheOperandsTheCommandNeeds) {
  auto none = parse(auditVerify(), {"--no-signatures"});
  ASSERT_FALSE(none.isOk());
  EXPECT_EQ(none.status().message(), "missing FILE... after the flags of 'verify'");
}

TEST(CommandLineTest, DoubleDashEndsTheFlags) {
  auto parsed = parse(auditVerify(), {"--no-signatures", "--", "--head", "-x.log", "--"});
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed->operands(), (std::vector<std::string>{"--head", "-x.log", "--"}));
  EXPECT_FALSE(parsed->has("--head"));
  const std::vector<std::string> helpAsFile = {"--", "--help"};
  EXPECT_FALSE(wantsHelp(helpAsFile));
  const std::vector<std::string> help = {"a.log", "-h", "--"};
  EXPECT_TRUE(wantsHelp(help));
  EXPECT_FALSE(parse(keyVerify(), {"--", "x"}).isOk());
}

TEST(CommandLineTest, RefusesAnUnknownFlagNamingItButNeverItsValue) {
  for (const auto& arg : {"--frobnicate=s3cr3t-value", "-f=s3cr3t-value"}) {
    auto parsed = parse(auditVerify(), {arg, "a.log"});
    ASSERT_FALSE(parsed.isOk());
    const std::string name = std::string(arg).substr(0, std::string(arg).find('='));
    EXPECT_EQ(parsed.status().message(), "unknown flag " + name + " for 'verify'");
  }
}

TEST(CommandLineTest, NeverEchoesAPositionalArgumentOrAPinFlagsValue) {
  for (const auto& args :
       {std::vector<std::string>{"s3cr3t-value"}, std::vector<std::string>{"--pin=s3cr3t-value"},
        std::vector<std::string>{"--so-pin", "s3cr3t-value"},
        std::vector<std::string>{"--key", "k", "--key", "s3cr3t-value"}}) {
    auto parsed = parse(keyVerify(), args);
    ASSERT_FALSE(parsed.isOk());
    EXPECT_FALSE(contains(parsed.status().message(), "s3cr3t-value")) << parsed.status().message();
  }
}

TEST(CommandLineTest, RefusesAPinLookingFlagNamingWhereTheCommandTakesPinsFrom) {
  auto withPinFlags = parse(auditVerify(), {"--password", "x", "a.log"});
  ASSERT_FALSE(withPinFlags.isOk());
  EXPECT_EQ(withPinFlags.status().message(),
            "--password is refused: PINs are never taken on the command line; they come from "
            "files or the environment (--pin-file FILE)");
  auto without = parse(keyVerify(), {"--pin", "1234"});
  ASSERT_FALSE(without.isOk());
  EXPECT_EQ(without.status().message(),
            "--pin is refused: PINs are never taken on the command line; they come from files or "
            "the environment");
}

TEST(CommandLineTest, UsageListsEveryFlagWithItsValueNameAndTheExitStatuses) {
  CommandSpec spec = auditVerify();
  spec.description =
      "First paragraph, long enough to be wrapped at eighty columns by the help "
      "text writer, which joins\nthese lines.\n\n  $ kc-audit verify a.log\n";
  spec.exitStatuses = {{0, "intact"}, {1, "a problem was found"}};
  const std::string usage = commandUsage("kc-audit", spec);
  EXPECT_TRUE(usage.starts_with("Usage: kc-audit verify [flags] FILE...\n\nCheck logs.\n"))
      << usage;
  EXPECT_TRUE(contains(usage, "\nOptions:\n  --public-key PEM  ")) << usage;
  EXPECT_TRUE(contains(usage, "  --head HEADFILE   ")) << usage;
  EXPECT_TRUE(contains(usage, "a saved head (repeatable)\n")) << usage;
  EXPECT_TRUE(contains(usage, "  --no-signatures   chain only\n")) << usage;
  EXPECT_TRUE(contains(usage, "  --help            print this help and exit\n")) << usage;
  EXPECT_TRUE(contains(usage, "\nExit status:\n  0  intact\n  1  a problem was found\n")) << usage;
  EXPECT_TRUE(contains(usage, "which joins these lines.\n\n  $ kc-audit verify a.log\n")) << usage;
  std::istringstream lines(usage);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 80u) << line;
}

TEST(CommandLineTest, UsageWrapsLongHelpUnderItsColumn) {
  CommandSpec spec = keyVerify();
  spec.flags.push_back({"--source-connection-string-env", "VAR",
                        "environment variable holding the connection string of the deployment "
                        "being imported, which is a long help text"});
  const std::string usage = commandUsage("kc-setup", spec);
  // Too wide a name puts its help on the next line, at the column of the others.
  EXPECT_TRUE(contains(usage, "  --source-connection-string-env VAR\n      ")) << usage;
  EXPECT_TRUE(contains(usage, "  --key URI     a key\n")) << usage;
  std::istringstream lines(usage);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 80u) << line;
}

ToolSpec sampleTool() {
  return {.name = "kc-tool",
          .summary = "Does things.",
          .commands = {keyVerify(), {"key", "list", "List keys.", "", {}}, auditVerify()},
          .exitStatuses = {{0, "ok"}, {2, "usage error"}}};
}

struct Run {
  Selection selection;
  std::string out;
  std::string err;
};

Run select(std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  auto selection = selectCommand(sampleTool(), args, out, err);
  return {std::move(selection), out.str(), err.str()};
}

TEST(ToolTest, ChoosesTheCommandAndParsesItsFlags) {
  auto run = select({"key", "verify", "--key", "k"});
  ASSERT_FALSE(run.selection.exitNow) << run.err;
  EXPECT_EQ(run.selection.command, 0u);
  EXPECT_EQ(run.selection.flags.value("--key"), "k");
  run = select({"verify", "--no-signatures", "a.log"});
  ASSERT_FALSE(run.selection.exitNow) << run.err;
  EXPECT_EQ(run.selection.command, 2u);
  EXPECT_EQ(run.selection.flags.operands(), std::vector<std::string>{"a.log"});
  EXPECT_TRUE(run.out.empty());
  EXPECT_TRUE(run.err.empty());
}

TEST(ToolTest, PrintsHelpAndTheVersionAndExitsZero) {
  auto run = select({"--version"});
  EXPECT_EQ(run.selection.exitNow, 0);
  EXPECT_EQ(run.out, "kc-tool " + std::string(kVersion) + "\n");
  run = select({"--help"});
  EXPECT_EQ(run.selection.exitNow, 0);
  EXPECT_TRUE(
      run.out.starts_with("Usage: kc-tool COMMAND [flags]\n  or:  kc-tool COMMAND --help\n"
                          "  or:  kc-tool --version\n\nDoes things.\n"))
      << run.out;
  EXPECT_TRUE(contains(run.out,
                       "\nCommands:\n  key verify  Check a key.\n  key list    List keys.\n"
                       "  verify      Check logs.\n"))
      << run.out;
  EXPECT_TRUE(contains(run.out, "\nOptions:\n  --help     ")) << run.out;
  EXPECT_TRUE(contains(run.out, "  --version  print the version and exit\n")) << run.out;
  EXPECT_TRUE(contains(run.out, "\nExit status:\n  0  ok\n  2  usage error\n")) << run.out;
  run = select({"key", "--help"});
  EXPECT_EQ(run.selection.exitNow, 0);
  EXPECT_TRUE(run.out.starts_with("Usage: kc-tool key COMMAND [flags]\n")) << run.out;
  EXPECT_FALSE(contains(run.out, "Check logs.")) << run.out;
  run = select({"key", "verify", "--frobnicate", "--help"});
  EXPECT_EQ(run.selection.exitNow, 0);
  EXPECT_TRUE(run.out.starts_with("Usage: kc-tool key verify [flags]\n")) << run.out;
}

TEST(ToolTest, UsageErrorsHaveOneFormAndExitTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "kc-tool: error: missing command (see kc-tool --help)\n"},
      {{"--frobnicate=x"}, "kc-tool: error: unknown flag --frobnicate (see kc-tool --help)\n"},
      {{"frobnicate"}, "kc-tool: error: unknown command 'frobnicate' (see kc-tool --help)\n"},
      {{"key"}, "kc-tool: error: missing command after 'key' (see kc-tool key --help)\n"},
      {{"key", "frob"}, "kc-tool: error: unknown command 'key frob' (see kc-tool key --help)\n"},
      {{"key", "verify", "--frob=x"},
       "kc-tool: error: unknown flag --frob for 'key verify' (see kc-tool key verify --help)\n"},
      {{"verify", "--no-signatures"},
       "kc-tool: error: missing FILE... after the flags of 'verify' (see kc-tool verify --help)\n"},
  };
  for (const auto& [args, message] : cases) {
    const auto run = select(args);
    EXPECT_EQ(run.selection.exitNow, kUsageError) << message;
    EXPECT_EQ(run.err, message);
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
}

}  // namespace
}  // namespace kc::cli
