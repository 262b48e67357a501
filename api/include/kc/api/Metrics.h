#pragma once
// Metrics: a thread-safe registry of the daemon's counters and histograms, rendered in the
// Prometheus text exposition format 0.0.4 by GET /metrics. Label values come from small
// fixed sets (matched route, method, status, operation name), never from raw request data,
// so the number of series stays bounded.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace kc::api {

// The audit log's counters, as the appliance reports them (api/ never sees the log itself).
struct AuditCounters {
  std::uint64_t records = 0;             // kc_audit_records_total: durable lines
  std::uint64_t bytes = 0;               // kc_audit_bytes_total: their bytes
  std::uint64_t checkpoints = 0;         // kc_audit_checkpoints_total: signed checkpoints
  std::uint64_t summarisedRefusals = 0;  // kc_audit_refusals_summarised_total
};

// One token of a cluster (pkcs11.tokens), as the appliance reports it.
struct ClusterTokenCounters {
  std::string name;              // the token's URI in pkcs11.tokens
  bool inRotation = true;        // kc_token_in_rotation{token}
  std::uint64_t operations = 0;  // kc_token_operations_total{token}
  std::uint64_t failures = 0;    // kc_token_failures_total{token}: took it out of rotation
  std::uint64_t returns = 0;     // kc_token_returns_total{token}: probes that put it back
};

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One answered HTTP request: kc_http_requests_total{route,method,status} and
  // kc_http_request_duration_seconds{route}. `route` is the matched route ("/user-keys",
  // "unmatched"), never the raw path; an unknown method is counted as "OTHER".
  void observeRequest(std::string_view route, std::string_view method, int status, double seconds);

  // One token operation (the appliance calls this): kc_token_operation_duration_seconds
  // {operation}. At most kMaxOperations distinct names are kept; later ones count as "other".
  void observeTokenOperation(std::string_view operation, double seconds);
  static constexpr std::size_t kMaxOperations = 32;

  // kc_token_pool_waits_total, read from `source` at render time (the session pool keeps the
  // counter); 0 until a source is set.
  void setTokenPoolWaitsSource(std::function<std::uint64_t()> source);

  // kc_audit_records_total, kc_audit_bytes_total, kc_audit_checkpoints_total and
  // kc_audit_refusals_summarised_total (refusals counted in a summary record instead of
  // recorded one by one), read from `source` at render time; absent until a source is set.
  void setAuditSource(std::function<AuditCounters()> source);

  // kc_token_in_rotation, kc_token_operations_total, kc_token_failures_total and
  // kc_token_returns_total, each by token, read from `source` at render time; absent until a
  // source is set (one token: no cluster).
  void setClusterTokensSource(std::function<std::vector<ClusterTokenCounters>()> source);

  // kc_database_errors_total.
  void addDatabaseError();

  // kc_health_checks_total: health checks that reached the token and the database.
  void addHealthCheck();

  // kc_jwks_refreshes_total{outcome}: "success" or "failure".
  void addJwksRefresh(bool success);

  // The whole registry in Prometheus text format 0.0.4.
  std::string render() const;

  // The Content-Type of render()'s output.
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative at render time, per-bucket here
    std::uint64_t count = 0;
    double sum = 0;
  };
  void observe(Histogram& histogram, double seconds);
  void renderHistogram(std::string& out, std::string_view name, std::string_view label,
                       const std::string& value, const Histogram& histogram) const;

  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> requestDurations_;
  std::map<std::string, Histogram> tokenOperations_;
  std::function<std::uint64_t()> tokenPoolWaitsSource_;
  std::function<AuditCounters()> auditSource_;
  std::function<std::vector<ClusterTokenCounters>()> clusterTokensSource_;
  std::uint64_t databaseErrors_ = 0;
  std::uint64_t healthChecks_ = 0;
  std::uint64_t jwksRefreshSuccesses_ = 0;
  std::uint64_t jwksRefreshFailures_ = 0;
};

}  // namespace kc::api
