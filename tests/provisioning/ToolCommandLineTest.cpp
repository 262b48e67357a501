// kc-setup and kc-audit behave alike on the command line: --version, --help of every command
// listing every flag its spec declares, usage errors in one form, and --help that help2man
// turns into a man page. Runs the built binaries.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "AuditTool.h"
#include "Commands.h"
#include "kc/Version.h"
#include "support/Subprocess.h"

namespace kc::test {
namespace {

struct Tool {
  std::string path;
  cli::ToolSpec spec;
};

std::vector<Tool> tools() {
  return {{KC_SETUP_PATH, setup::kcSetupTool()}, {KC_AUDIT_PATH, audit_tool::kcAuditTool()}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `tool` `command` `arg`, e.g. "kc-setup token init --help".
ProcessResult runCommand(const Tool& tool, const cli::CommandSpec& command, std::string arg) {
  std::vector<std::string> argv{tool.path, command.group};
  if (!command.name.empty()) argv.push_back(command.name);
  argv.push_back(std::move(arg));
  return runProcess(argv);
}

TEST(ToolCommandLineTest, BothToolsPrintTheirVersion) {
  for (const auto& tool : tools()) {
    const auto result = runProcess({tool.path, "--version"});
    EXPECT_EQ(result.exitCode, 0) << result.err;
    EXPECT_EQ(result.out, tool.spec.name + " " + std::string(kVersion) + "\n");
  }
}

TEST(ToolCommandLineTest, ToolHelpListsEveryCommandAndExitsZero) {
  for (const auto& tool : tools()) {
    ASSERT_FALSE(tool.spec.commands.empty());
    const auto result = runProcess({tool.path, "--help"});
    EXPECT_EQ(result.exitCode, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with("Usage: " + tool.spec.name + " COMMAND [flags]"))
        << result.out;
    EXPECT_TRUE(contains(result.out, "\nCommands:\n")) << result.out;
    for (const auto& command : tool.spec.commands) {
      EXPECT_TRUE(contains(result.out, "\n  " + cli::commandName(command) + "  "))
          << cli::commandName(command) << "\n"
          << result.out;
    }
    EXPECT_TRUE(contains(result.out, "  --version  ")) << result.out;
  }
}

TEST(ToolCommandLineTest, HelpOfEveryCommandExitsZeroAndListsEveryFlagItDeclares) {
  for (const auto& tool : tools()) {
    for (const auto& command : tool.spec.commands) {
      const auto result = runCommand(tool, command, "--help");
      const std::string name = tool.spec.name + " " + cli::commandName(command);
      EXPECT_EQ(result.exitCode, 0) << name << ": " << result.err;
      EXPECT_TRUE(result.out.starts_with("Usage: " + name + " [flags]")) << result.out;
      for (const auto& flag : command.flags) {
        const std::string row =
            "\n  " + flag.name + (flag.valueName.empty() ? "" : " " + flag.valueName);
        EXPECT_TRUE(contains(result.out, row)) << name << " lacks " << flag.name << "\n"
                                               << result.out;
      }
      EXPECT_TRUE(contains(result.out, "\n  --help ")) << result.out;
    }
  }
}

TEST(ToolCommandLineTest, UnknownFlagExitsTwoWithTheSameMessageInBothTools) {
  for (const auto& tool : tools()) {
    for (const auto& command : tool.spec.commands) {
      const auto result = runCommand(tool, command, "--frobnicate=s3cr3t-value");
      const std::string name = cli::commandName(command);
      EXPECT_EQ(result.exitCode, 2) << name;
      EXPECT_EQ(result.err, tool.spec.name + ": error: unknown flag --frobnicate for '" + name +
                                "' (see " + tool.spec.name + " " + name + " --help)\n");
      EXPECT_TRUE(result.out.empty()) << result.out;
    }
    const auto bare = runProcess({tool.path, "--frobnicate"});
    EXPECT_EQ(bare.exitCode, 2);
    EXPECT_EQ(bare.err, tool.spec.name + ": error: unknown flag --frobnicate (see " +
                            tool.spec.name + " --help)\n");
    const auto none = runProcess({tool.path});
    EXPECT_EQ(none.exitCode, 2);
    EXPECT_EQ(none.err,
              tool.spec.name + ": error: missing command (see " + tool.spec.name + " --help)\n");
  }
}

TEST(ToolCommandLineTest, Help2manMakesAManPageOfEachTool) {
  const std::filesystem::path help2man = "/usr/bin/help2man";
  if (!std::filesystem::exists(help2man)) GTEST_SKIP() << "help2man is not installed";
  for (const auto& tool : tools()) {
    const auto result = runProcess({help2man.string(), "--no-info", tool.path});
    ASSERT_EQ(result.exitCode, 0) << result.err;
    const std::string& page = result.out;
    EXPECT_TRUE(contains(page, ".SH SYNOPSIS\n.B " + tool.spec.name + "\n")) << page;
    EXPECT_TRUE(contains(page, ".SH DESCRIPTION\n")) << page;
    EXPECT_TRUE(contains(page, ".SS \"Commands:\"\n")) << page;
    EXPECT_TRUE(contains(page, ".SH OPTIONS\n")) << page;
    EXPECT_TRUE(contains(page, "\\fB\\-\\-version\\fR")) << page;
    EXPECT_TRUE(contains(page, ".SS \"Exit status:\"\n")) << page;
    EXPECT_TRUE(contains(page, std::string(kVersion))) << page;
    for (const auto& command : tool.spec.commands) {
      std::string name;  // as help2man escapes it
      for (const char c : cli::commandName(command)) name += c == '-' ? "\\-" : std::string(1, c);
      EXPECT_TRUE(contains(page, ".TP\n" + name + "\n")) << name << "\n" << page;
    }
  }
}

}  // namespace
}  // namespace kc::test
