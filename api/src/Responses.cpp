#include "Responses.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <cstdio>
#include <ostream>

namespace kc::api {

void setStatusLine(Poco::Net::HTTPServerResponse& response, int status) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  if (status == 503) response.set("Retry-After", std::to_string(kRetryAfterSeconds));
}

std::ostream& sendAnswer(Poco::Net::HTTPServerResponse& response, std::string_view body) {
  std::ostream& out = response.send();
  out.write(body.data(), static_cast<std::streamsize>(body.size()));
  if (!out) throw Poco::IOException("the answer was not sent");
  return out;
}

void flushAnswer(std::ostream& out) {
  out.flush();
  if (!out) throw Poco::IOException("the answer was not sent");
}

bool queryAsksForJson(const std::string& target) {
  try {
    for (const auto& [name, value] : Poco::URI(target).getQueryParameters()) {
      if (name == "format" && value == "json") return true;
    }
  } catch (const Poco::Exception&) {
  }
  return false;
}

std::string jsonEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          // Always 6 characters: cannot fail or be cut.
          (void)std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string healthText(const HealthReport& report) {
  return report.healthy ? "Healthy" : "Unhealthy";
}

std::string healthJson(const HealthReport& report, bool withDetail) {
  std::string body = "{\"status\":\"" + healthText(report) + "\",\"components\":[";
  for (std::size_t i = 0; i < report.components.size(); ++i) {
    const auto& component = report.components[i];
    if (i) body += ',';
    body += "{\"name\":\"" + jsonEscape(component.name) +
            "\",\"healthy\":" + (component.healthy ? "true" : "false");
    if (withDetail) body += ",\"detail\":\"" + jsonEscape(component.detail) + "\"";
    body += '}';
  }
  body += "]}";
  return body;
}

}  // namespace kc::api
