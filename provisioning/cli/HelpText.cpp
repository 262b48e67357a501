// The --help texts of commands and tools. One layout for every tool, shaped for help2man: a
// "Usage:" line (with "  or:" lines) becomes the SYNOPSIS, "Options:" the OPTIONS section, other
// "Heading:" lines with an indented list below them sub-sections, and rows indented by two
// spaces with their text two or more spaces to the right tagged paragraphs.

#include <algorithm>
#include <utility>
#include <vector>

#include "kc/cli/CommandLine.h"
#include "kc/cli/Tool.h"

namespace kc::cli {
namespace {

constexpr std::size_t kWidth = 80;
// Names wider than this put their help text on the next line instead of widening the column.
constexpr std::size_t kMaxNameColumn = 28;

using Rows = std::vector<std::pair<std::string, std::string>>;

// `text` broken into lines of at most `width` characters (longer words stay whole); lines
// after the first start with `indent`.
std::string wrapWords(std::string_view text, const std::string& indent, std::size_t width) {
  std::string out;
  std::size_t lineLength = 0;
  while (!text.empty()) {
    const auto end = text.find(' ');
    const std::string_view word = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (word.empty()) continue;
    if (lineLength > 0 && lineLength + 1 + word.size() > width) {
      out += "\n" + indent;
      lineLength = 0;
    } else if (lineLength > 0) {
      out += ' ';
      ++lineLength;
    }
    out += word;
    lineLength += word.size();
  }
  return out;
}

// Appends `text` as CommandSpec::description says: lines joined into paragraphs and
// re-wrapped, empty lines kept, lines that start with a space kept as they are.
void appendParagraphs(std::string& out, std::string_view text) {
  std::string paragraph;
  const auto flush = [&] {
    if (paragraph.empty()) return;
    out += wrapWords(paragraph, "", kWidth) + "\n";
    paragraph.clear();
  };
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == ' ') {
      flush();
      out += std::string(line) + "\n";
    } else {
      paragraph += (paragraph.empty() ? "" : " ") + std::string(line);
    }
  }
  flush();
}

// Appends "heading:" and one row per entry: the name indented by two spaces, its text in a
// column to the right, wrapped under itself.
void appendRows(std::string& out, std::string_view heading, const Rows& rows) {
  if (rows.empty()) return;
  std::size_t column = 0;
  for (const auto& row : rows) {
    if (row.first.size() <= kMaxNameColumn) column = std::max(column, row.first.size());
  }
  const std::string hang(column + 4, ' ');
  out += "\n" + std::string(heading) + ":\n";
  for (const auto& [name, text] : rows) {
    out += "  " + name;
    out += name.size() <= column ? std::string(column - name.size() + 2, ' ') : "\n" + hang;
    out += wrapWords(text, hang, kWidth - hang.size()) + "\n";
  }
}

Rows exitStatusRows(const std::vector<ExitStatus>& statuses) {
  Rows rows;
  for (const auto& status : statuses)
    rows.emplace_back(std::to_string(status.code), status.meaning);
  return rows;
}

std::string flagText(const FlagSpec& flag) {
  return flag.repeatable ? flag.help + " (repeatable)" : flag.help;
}

}  // namespace

std::string commandUsage(std::string_view tool, const CommandSpec& spec) {
  std::string out = "Usage: " + std::string(tool) + " " + commandName(spec) + " [flags]" +
                    (spec.operands.empty() ? "" : " " + spec.operands) + "\n\n";
  appendParagraphs(out, spec.summary);
  if (!spec.description.empty()) {
    out += "\n";
    appendParagraphs(out, spec.description);
  }
  Rows flags;
  flags.reserve(spec.flags.size() + 1);
  for (const auto& flag : spec.flags) {
    flags.emplace_back(flag.valueName.empty() ? flag.name : flag.name + " " + flag.valueName,
                       flagText(flag));
  }
  flags.emplace_back("--help", "print this help and exit");
  appendRows(out, "Options", flags);
  appendRows(out, "Exit status", exitStatusRows(spec.exitStatuses));
  return out;
}

std::string toolUsage(const ToolSpec& tool, std::string_view group) {
  // The operands every command takes, if they all take the same ("FILE...").
  std::string operands = tool.commands.empty() ? "" : tool.commands.front().operands;
  for (const auto& command : tool.commands) {
    if (command.operands != operands) operands.clear();
  }
  const std::string prefix = tool.name + (group.empty() ? "" : " " + std::string(group));
  std::string out = "Usage: " + prefix + " COMMAND [flags]" +
                    (operands.empty() ? "" : " " + operands) + "\n  or:  " + prefix +
                    " COMMAND --help\n";
  if (group.empty()) out += "  or:  " + tool.name + " --version\n";
  if (group.empty()) {
    out += "\n";
    appendParagraphs(out, tool.summary);
    if (!tool.description.empty()) {
      out += "\n";
      appendParagraphs(out, tool.description);
    }
  }
  Rows commands;
  for (const auto& command : tool.commands) {
    if (group.empty() || command.group == group) {
      commands.emplace_back(commandName(command), command.summary);
    }
  }
  appendRows(out, "Commands", commands);
  out += "\nRun '" + tool.name + " COMMAND --help' for a command's flags.\n";
  if (!group.empty()) return out;
  appendRows(out, "Options",
             {{"--help", "print this help and exit"}, {"--version", "print the version and exit"}});
  appendRows(out, "Exit status", exitStatusRows(tool.exitStatuses));
  return out;
}

}  // namespace kc::cli
