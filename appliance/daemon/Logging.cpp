#include "Logging.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Formatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/PatternFormatter.h>

#include <sstream>

namespace kc::daemon {
namespace {

// {"time":..., "level":..., "logger":..., "message":...} on one line, for log shippers.
class JsonFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& message, std::string& text) override {
    Poco::JSON::Object line;
    line.set("time", Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ"));
    line.set("level", levelName(message.getPriority()));
    line.set("logger", message.getSource());
    line.set("message", message.getText());
    std::ostringstream out;
    line.stringify(out);
    text = out.str();
  }

 private:
  static const char* levelName(Poco::Message::Priority priority) {
    switch (priority) {
      case Poco::Message::PRIO_FATAL:
        return "fatal";
      case Poco::Message::PRIO_CRITICAL:
        return "critical";
      case Poco::Message::PRIO_ERROR:
        return "error";
      case Poco::Message::PRIO_WARNING:
        return "warning";
      case Poco::Message::PRIO_NOTICE:
        return "notice";
      case Poco::Message::PRIO_INFORMATION:
        return "information";
      case Poco::Message::PRIO_DEBUG:
        return "debug";
      default:
        return "trace";
    }
  }
};

}  // namespace

void configureLogging(const appliance::LogSettings& settings) {
  Poco::AutoPtr<Poco::Formatter> formatter;
  if (settings.format == appliance::LogFormat::kJson) {
    formatter = new JsonFormatter;
  } else {
    auto* pattern = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t");
    pattern->setProperty("times", "UTC");
    formatter = pattern;
  }
  Poco::AutoPtr<Poco::Channel> console(new Poco::ConsoleChannel);
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(settings.level));
}

}  // namespace kc::daemon
