#include "CommandLine.h"

#include <algorithm>
#include <array>

namespace kc::setup {
namespace {

// Flags an operator might reach for to hand over a PIN. Each gets an answer that says
// where PINs come from instead of a bare "unknown flag".
constexpr std::array<std::string_view, 8> kPinFlags = {
    "--pin",          "--so-pin",   "--user-pin", "--pin-value",
    "--so-pin-value", "--password", "--passwd",   "--passphrase"};

Status usageError(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

const FlagSpec* findFlag(const CommandSpec& spec, std::string_view name) {
  const auto it = std::find_if(spec.flags.begin(), spec.flags.end(),
                               [&](const FlagSpec& flag) { return flag.name == name; });
  return it == spec.flags.end() ? nullptr : &*it;
}

constexpr std::size_t kUsageWidth = 96;

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

std::string commandName(const CommandSpec& spec) {
  return spec.name.empty() ? spec.group : spec.group + " " + spec.name;
}

}  // namespace

std::optional<std::string> ParsedFlags::value(std::string_view flag) const {
  const auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

bool ParsedFlags::has(std::string_view flag) const {
  return values_.contains(flag);
}

void ParsedFlags::set(std::string flag, std::string value) {
  values_.insert_or_assign(std::move(flag), std::move(value));
}

bool wantsHelp(std::span<const std::string> args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& arg) { return arg == "--help" || arg == "-h"; });
}

Result<ParsedFlags> parseFlags(const CommandSpec& spec, std::span<const std::string> args) {
  ParsedFlags parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--")) {
      // Not echoed: a stray positional argument may well be a secret.
      return usageError("unexpected argument #" + std::to_string(i + 1) + " to '" +
                        commandName(spec) + "': every value follows its flag (see kc-setup " +
                        commandName(spec) + " --help)");
    }
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    if (std::find(kPinFlags.begin(), kPinFlags.end(), name) != kPinFlags.end()) {
      return usageError(name +
                        " is refused: PINs are never taken on the command line; they come from "
                        "files or the environment (--pin-file FILE or --pin-env VAR, "
                        "--so-pin-file FILE or --so-pin-env VAR)");
    }
    const FlagSpec* flag = findFlag(spec, name);
    if (flag == nullptr) {
      return usageError("unknown flag " + name + " for '" + commandName(spec) + "' (see kc-setup " +
                        commandName(spec) + " --help)");
    }
    if (parsed.has(name)) return usageError(name + " is given more than once");
    std::string value;
    if (flag->valueName.empty()) {
      if (eq != std::string::npos) return usageError(name + " takes no value");
    } else if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      value = args[++i];
    } else {
      return usageError(name + " needs a value: " + name + " " + flag->valueName);
    }
    if (!flag->valueName.empty() && value.empty()) {
      return usageError(name + " needs a non-empty value: " + name + " " + flag->valueName);
    }
    parsed.set(name, std::move(value));
  }
  return parsed;
}

std::string commandUsage(const CommandSpec& spec) {
  std::string out = "usage: kc-setup " + commandName(spec) + " [flags]\n\n" + spec.summary + "\n";
  if (!spec.description.empty()) out += "\n" + spec.description + "\n";
  out += "\nflags:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  rows.reserve(spec.flags.size() + 1);
  for (const auto& flag : spec.flags) {
    rows.emplace_back(flag.valueName.empty() ? flag.name : flag.name + " " + flag.valueName,
                      flag.help);
  }
  rows.emplace_back("--help", "print this help and exit");
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  const std::string hang(width + 4, ' ');
  for (const auto& [left, help] : rows) {
    out += "  " + left + std::string(width - left.size() + 2, ' ') +
           wrapWords(help, hang, kUsageWidth - hang.size()) + "\n";
  }
  return out;
}

}  // namespace kc::setup
