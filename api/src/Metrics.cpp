#include "kc/api/Metrics.h"

#include <array>
#include <charconv>

namespace kc::api {
namespace {

constexpr std::array<std::string_view, 8> kMethods = {"GET",   "POST",    "PUT",  "DELETE",
                                                      "PATCH", "OPTIONS", "HEAD", "TRACE"};

std::string boundedMethod(std::string_view method) {
  for (const auto known : kMethods)
    if (method == known) return std::string(known);
  return "OTHER";
}

// The shortest text that reads back as `value` ("0.005", not "0.0050000000000000001").
std::string formatDouble(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// Prometheus label value escaping (backslash, quote, newline).
std::string escapeLabel(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Metrics::Metrics() : bounds_{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10} {}

void Metrics::observe(Histogram& histogram, double seconds) {
  if (histogram.buckets.empty()) histogram.buckets.assign(bounds_.size(), 0);
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (seconds <= bounds_[i]) {
      ++histogram.buckets[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum += seconds;
}

void Metrics::observeRequest(std::string_view route, std::string_view method, int status,
                             double seconds) {
  const std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), boundedMethod(method), status}];
  observe(requestDurations_[std::string(route)], seconds);
}

void Metrics::observeTokenOperation(std::string_view operation, double seconds) {
  const std::lock_guard lock(mutex_);
  std::string name(operation);
  if (!tokenOperations_.contains(name) && tokenOperations_.size() >= kMaxOperations) {
    name = "other";
  }
  observe(tokenOperations_[name], seconds);
}

void Metrics::setTokenPoolWaitsSource(std::function<std::uint64_t()> source) {
  const std::lock_guard lock(mutex_);
  tokenPoolWaitsSource_ = std::move(source);
}

void Metrics::setAuditSource(std::function<AuditCounters()> source) {
  const std::lock_guard lock(mutex_);
  auditSource_ = std::move(source);
}

void Metrics::setClusterTokensSource(std::function<std::vector<ClusterTokenCounters>()> source) {
  const std::lock_guard lock(mutex_);
  clusterTokensSource_ = std::move(source);
}

void Metrics::addDatabaseError() {
  const std::lock_guard lock(mutex_);
  ++databaseErrors_;
}

void Metrics::addHealthCheck() {
  const std::lock_guard lock(mutex_);
  ++healthChecks_;
}

void Metrics::addJwksRefresh(bool success) {
  const std::lock_guard lock(mutex_);
  ++(success ? jwksRefreshSuccesses_ : jwksRefreshFailures_);
}

void Metrics::renderHistogram(std::string& out, std::string_view name, std::string_view label,
                              const std::string& value, const Histogram& histogram) const {
  const std::string labels = std::string(label) + "=\"" + escapeLabel(value) + "\"";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += histogram.buckets.empty() ? 0 : histogram.buckets[i];
    out += std::string(name) + "_bucket{" + labels + ",le=\"" + formatDouble(bounds_[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += std::string(name) + "_bucket{" + labels + ",le=\"+Inf\"} " +
         std::to_string(histogram.count) + "\n";
  out += std::string(name) + "_sum{" + labels + "} " + formatDouble(histogram.sum) + "\n";
  out += std::string(name) + "_count{" + labels + "} " + std::to_string(histogram.count) + "\n";
}

std::string Metrics::render() const {
  std::function<std::uint64_t()> poolSource;
  std::function<AuditCounters()> auditSource;
  std::function<std::vector<ClusterTokenCounters>()> clusterSource;
  {
    const std::lock_guard lock(mutex_);
    poolSource = tokenPoolWaitsSource_;
    auditSource = auditSource_;
    clusterSource = clusterTokensSource_;
  }
  // Called outside the lock: the sources may take their own locks.
  const std::uint64_t poolWaitsFromSource = poolSource ? poolSource() : 0;
  const bool hasAudit = static_cast<bool>(auditSource);
  const AuditCounters audit = hasAudit ? auditSource() : AuditCounters{};
  const std::vector<ClusterTokenCounters> clusterTokens =
      clusterSource ? clusterSource() : std::vector<ClusterTokenCounters>{};

  const std::lock_guard lock(mutex_);
  std::string out;
  out +=
      "# HELP kc_http_requests_total HTTP requests answered, by matched route, method and "
      "status.\n";
  out += "# TYPE kc_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out += "kc_http_requests_total{route=\"" + escapeLabel(route) + "\",method=\"" + method +
           "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP kc_http_request_duration_seconds Time to answer an HTTP request, by route.\n";
  out += "# TYPE kc_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : requestDurations_) {
    renderHistogram(out, "kc_http_request_duration_seconds", "route", route, histogram);
  }
  out += "# HELP kc_token_operation_duration_seconds Time of a PKCS#11 token operation.\n";
  out += "# TYPE kc_token_operation_duration_seconds histogram\n";
  for (const auto& [operation, histogram] : tokenOperations_) {
    renderHistogram(out, "kc_token_operation_duration_seconds", "operation", operation, histogram);
  }
  out += "# HELP kc_token_pool_waits_total Times a request waited for a free token session.\n";
  out += "# TYPE kc_token_pool_waits_total counter\n";
  out += "kc_token_pool_waits_total " + std::to_string(poolWaitsFromSource) + "\n";
  if (clusterSource) {
    const auto byToken = [&](std::string_view name, std::string_view type, std::string_view help,
                             auto value) {
      out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
      out += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
      for (const auto& token : clusterTokens) {
        out += std::string(name) + "{token=\"" + escapeLabel(token.name) + "\"} " +
               std::to_string(value(token)) + "\n";
      }
    };
    byToken("kc_token_in_rotation", "gauge", "1 while the token of the cluster is in rotation.",
            [](const ClusterTokenCounters& t) { return t.inRotation ? 1 : 0; });
    byToken("kc_token_operations_total", "counter", "Token operations run on the token.",
            [](const ClusterTokenCounters& t) { return t.operations; });
    byToken("kc_token_failures_total", "counter",
            "Operations the token failed as unavailable, each taking it out of rotation.",
            [](const ClusterTokenCounters& t) { return t.failures; });
    byToken("kc_token_returns_total", "counter",
            "Times a probe round trip put the token back in rotation.",
            [](const ClusterTokenCounters& t) { return t.returns; });
  }
  out += "# HELP kc_database_errors_total Failed database operations.\n";
  out += "# TYPE kc_database_errors_total counter\n";
  out += "kc_database_errors_total " + std::to_string(databaseErrors_) + "\n";
  out += "# HELP kc_health_checks_total Health checks of the token and the database.\n";
  out += "# TYPE kc_health_checks_total counter\n";
  out += "kc_health_checks_total " + std::to_string(healthChecks_) + "\n";
  out +=
      "# HELP kc_jwks_refreshes_total Loads of the identity server's signing keys, by outcome.\n";
  out += "# TYPE kc_jwks_refreshes_total counter\n";
  out += "kc_jwks_refreshes_total{outcome=\"success\"} " + std::to_string(jwksRefreshSuccesses_) +
         "\n";
  out +=
      "kc_jwks_refreshes_total{outcome=\"failure\"} " + std::to_string(jwksRefreshFailures_) + "\n";
  if (hasAudit) {
    const auto counter = [&out](std::string_view name, std::string_view help, std::uint64_t value) {
      out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
      out += "# TYPE " + std::string(name) + " counter\n";
      out += std::string(name) + " " + std::to_string(value) + "\n";
    };
    counter("kc_audit_records_total", "Audit records made durable, checkpoints included.",
            audit.records);
    counter("kc_audit_bytes_total", "Bytes of audit records made durable.", audit.bytes);
    counter("kc_audit_checkpoints_total", "Signed audit checkpoints written.", audit.checkpoints);
    counter("kc_audit_refusals_summarised_total",
            "Refused requests counted in a summary record instead of one record each.",
            audit.summarisedRefusals);
  }
  return out;
}

}  // namespace kc::api
