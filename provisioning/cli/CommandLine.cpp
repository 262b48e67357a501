#include "kc/cli/CommandLine.h"

#include <algorithm>
#include <array>

namespace kc::cli {
namespace {

// Flags someone might reach for to hand over a PIN. Each gets an answer that says where PINs
// come from instead of a bare "unknown flag".
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

// The refusal of a PIN-looking flag, naming the flags this command takes a PIN by instead.
Status pinFlagRefused(const CommandSpec& spec, const std::string& name) {
  std::string own;
  for (const auto& flag : spec.flags) {
    if (flag.name.find("pin") == std::string::npos || flag.valueName.empty()) continue;
    own += (own.empty() ? "" : ", ") + flag.name + " " + flag.valueName;
  }
  return usageError(name +
                    " is refused: PINs are never taken on the command line; they come from "
                    "files or the environment" +
                    (own.empty() ? std::string() : " (" + own + ")"));
}

bool isFlag(const std::string& arg) {
  return arg.size() > 1 && arg.front() == '-';
}

}  // namespace

std::optional<std::string> ParsedFlags::value(std::string_view flag) const {
  const auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedFlags::values(std::string_view flag) const {
  const auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

bool ParsedFlags::has(std::string_view flag) const {
  return values_.find(flag) != values_.end();
}

void ParsedFlags::set(std::string flag, std::string value) {
  values_.insert_or_assign(std::move(flag), std::vector<std::string>{std::move(value)});
}

void ParsedFlags::add(std::string flag, std::string value) {
  values_[std::move(flag)].push_back(std::move(value));
}

std::string commandName(const CommandSpec& spec) {
  return spec.name.empty() ? spec.group : spec.group + " " + spec.name;
}

bool wantsHelp(std::span<const std::string> args) {
  const auto end = std::find(args.begin(), args.end(), "--");
  return std::any_of(args.begin(), end,
                     [](const std::string& arg) { return arg == "--help" || arg == "-h"; });
}

Result<ParsedFlags> parseFlags(const CommandSpec& spec, std::span<const std::string> args) {
  ParsedFlags parsed;
  bool flagsEnded = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!flagsEnded && arg == "--") {
      flagsEnded = true;
      continue;
    }
    if (flagsEnded || !isFlag(arg)) {
      if (spec.operands.empty()) {
        // Not echoed: a stray positional argument may well be a secret.
        return usageError("unexpected argument #" + std::to_string(i + 1) + " to '" +
                          commandName(spec) + "': every value follows its flag");
      }
      parsed.addOperand(arg);
      continue;
    }
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    if (std::find(kPinFlags.begin(), kPinFlags.end(), name) != kPinFlags.end()) {
      return pinFlagRefused(spec, name);
    }
    const FlagSpec* flag = findFlag(spec, name);
    if (flag == nullptr) {
      return usageError("unknown flag " + name + " for '" + commandName(spec) + "'");
    }
    if (parsed.has(name) && !flag->repeatable) {
      return usageError(name + " is given more than once");
    }
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
    parsed.add(name, std::move(value));
  }
  if (parsed.operands().size() < spec.minOperands) {
    return usageError("missing " + spec.operands + " after the flags of '" + commandName(spec) +
                      "'");
  }
  return parsed;
}

}  // namespace kc::cli
