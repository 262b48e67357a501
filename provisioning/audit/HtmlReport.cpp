#include "HtmlReport.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <vector>

namespace kc::audit {

namespace {

// printf into a string as long as the output needs: a label from the log can be any length,
// where a fixed buffer would cut the markup off.
template <typename... Args>
std::string formatted(const char* format, Args... args) {
  const int needed = std::snprintf(nullptr, 0, format, args...);
  if (needed <= 0) return {};
  std::string out(static_cast<std::size_t>(needed), '\0');
  // Cannot fail or truncate: the same format and arguments, into the size measured above.
  (void)std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;color:#1d232a;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2rem}
.sub{color:#57606a;margin-top:0}
.verdict{padding:1rem 1.2rem;border-radius:8px;font-size:1.1rem}
.verdict.ok{background:#dafbe1;border:1px solid #1a7f37}.verdict.bad{background:#ffebe9;border:1px solid #cf222e}
.verdict strong{font-size:1.4rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin-top:.5rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#cf222e;font-weight:600}.warning{color:#9a6700;font-weight:600}
.empty{color:#57606a;font-style:italic}
svg text{font-family:inherit;font-size:11px;fill:#1d232a}
.bar{fill:#0969da}.bar.denied{fill:#cf222e}.bar.ok{fill:#1a7f37}
)";

std::string number(std::uint64_t value) {
  return std::to_string(value);
}

std::string hourOf(std::int64_t micros) {
  std::string text = formatTime(micros);  // YYYY-MM-DDTHH:...
  return text.substr(0, 13) + ":00Z";
}

std::string barChart(const std::vector<std::pair<std::string, std::uint64_t>>& bars,
                     std::string_view title, std::string_view cssClass = "bar") {
  if (bars.empty()) return "<p class=\"empty\">No records.</p>\n";
  const int width = 1100, height = 290, left = 50, bottom = 120, top = 20;
  std::uint64_t maxValue = 1;
  for (const auto& [label, value] : bars) maxValue = std::max(maxValue, value);
  const double slot = static_cast<double>(width - left - 10) / static_cast<double>(bars.size());
  const double plotHeight = height - bottom - top;
  std::string svg = "<svg role=\"img\" aria-label=\"" + escape(title) +
                    "\" width=\"100%\" viewBox=\"0 0 " + number(width) + " " + number(height) +
                    "\">\n<title>" + escape(title) + "</title>\n";
  svg += formatted(
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#57606a\"/>\n"
      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%llu</text>\n"
      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
      left, height - bottom, width - 10, height - bottom, left - 6, top + 4,
      static_cast<unsigned long long>(maxValue), left - 6, height - bottom);
  const std::size_t labelEvery = std::max<std::size_t>(1, bars.size() / 24);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, value] = bars[i];
    const double barHeight =
        plotHeight * static_cast<double>(value) / static_cast<double>(maxValue);
    const double barWidth = std::min(std::max(1.0, slot * 0.8), 60.0);
    const double x = left + slot * static_cast<double>(i) + (slot - barWidth) / 2;
    svg += formatted(
        "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
        "<title>%s: %llu</title></rect>\n",
        std::string(cssClass).c_str(), x, height - bottom - barHeight, barWidth, barHeight,
        escape(label).c_str(), static_cast<unsigned long long>(value));
    if (i % labelEvery == 0) {
      svg += formatted(
          "<text transform=\"translate(%.1f,%d) rotate(-45)\" text-anchor=\"end\">%s</text>\n",
          x + barWidth / 2, height - bottom + 12, escape(label).c_str());
    }
  }
  svg += "</svg>\n";
  return svg;
}

std::string recordRow(const ParsedRecord& r) {
  const auto& a = r.record;
  return "<tr><td>" + escape(r.file) + ":" + number(r.line) + "</td><td>" +
         escape(formatTime(a.timeMicros)) + "</td><td>" + escape(a.instance) +
         "</td><td class=\"num\">" + number(a.seq) + "</td><td>" + escape(a.operation) +
         "</td><td>" + escape(a.outcome) + "</td><td class=\"num\">" +
         (a.httpStatus ? number(a.httpStatus) : "") + "</td><td>" + escape(a.userId) + "</td><td>" +
         escape(a.clientAddress) + "</td><td>" + escape(a.requestId) + "</td><td>" +
         escape(a.detail) + "</td></tr>\n";
}

std::string recordTable(const std::vector<const ParsedRecord*>& rows, std::string_view none) {
  if (rows.empty()) return "<p class=\"empty\">" + std::string(none) + "</p>\n";
  std::string out =
      "<table><thead><tr><th>record</th><th>time (UTC)</th><th>instance</th><th>seq</th>"
      "<th>operation</th><th>outcome</th><th>HTTP</th><th>user</th><th>client</th>"
      "<th>request</th><th>detail</th></tr></thead><tbody>\n";
  const std::size_t shown = std::min<std::size_t>(rows.size(), 500);
  for (std::size_t i = 0; i < shown; ++i) out += recordRow(*rows[i]);
  out += "</tbody></table>\n";
  if (shown < rows.size())
    out += "<p class=\"empty\">" + number(rows.size() - shown) +
           " more not shown; use kc-audit show or export.</p>\n";
  return out;
}

}  // namespace

std::string renderHtmlReport(const VerificationReport& report,
                             const std::vector<std::string>& sources) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>HSM Key Connector audit report</title>\n<style>";
  html += kStyle;
  html +=
      "</style></head><body>\n<h1>HSM Key Connector audit report</h1>\n<p "
      "class=\"sub\">Generated " +
      escape(formatTime(nowMicros())) + " from " + number(sources.size()) + " file(s), " +
      number(report.records.size()) + " record(s).</p>\n";

  // Verdict.
  const bool intact = report.intact();
  html += "<section id=\"verdict\"><h2>Verification verdict</h2>\n<div class=\"verdict " +
          std::string(intact ? "ok" : "bad") + "\"><strong>" +
          (intact ? "INTACT" : "TAMPERED OR DAMAGED") + "</strong> — " + number(report.errors()) +
          " error(s), " + number(report.warnings()) + " warning(s). Checkpoint signatures " +
          (report.signaturesChecked
               ? "checked against the audit public key."
               : "<span class=\"warning\">not checked</span> (no public key given).") +
          "</div>\n";
  if (!report.findings.empty()) {
    html +=
        "<table><thead><tr><th>severity</th><th>record</th><th>instance</th><th>seq</th>"
        "<th>finding</th></tr></thead><tbody>\n";
    for (const auto& f : report.findings) {
      const bool isError = f.severity == Finding::Severity::kError;
      html += "<tr><td class=\"" + std::string(isError ? "error" : "warning") + "\">" +
              (isError ? "error" : "warning") + "</td><td>" + escape(f.file) +
              (f.line ? ":" + number(f.line) : "") + "</td><td>" + escape(f.instance) +
              "</td><td class=\"num\">" + (f.seq ? number(f.seq) : "") + "</td><td>" +
              escape(f.message) + "</td></tr>\n";
    }
    html += "</tbody></table>\n";
  }
  html +=
      "<table><thead><tr><th>instance</th><th>records</th><th>seq</th><th>checkpoints</th>"
      "<th>sealed through seq</th><th>unsealed</th><th>files</th></tr></thead><tbody>\n";
  for (const auto& c : report.chains) {
    std::string files;
    for (const auto& f : c.files) files += (files.empty() ? "" : ", ") + escape(f);
    html += "<tr><td>" + escape(c.instance) + "</td><td class=\"num\">" + number(c.records) +
            "</td><td>" + number(c.firstSeq) + ".." + number(c.lastSeq) +
            "</td><td class=\"num\">" + number(c.checkpoints) + "</td><td class=\"num\">" +
            number(c.sealedThrough) + "</td><td class=\"num\">" + number(c.unsealed) + "</td><td>" +
            files + "</td></tr>\n";
  }
  html += "</tbody></table></section>\n";

  // Activity: operations per hour (checkpoints and log housekeeping excluded).
  std::map<std::string, std::uint64_t> perHour;
  std::map<std::string, std::uint64_t> outcomes;
  std::map<std::string, std::map<std::string, std::uint64_t>> outcomeByOperation;
  std::map<std::string, std::uint64_t> releasesByUser;
  std::vector<const ParsedRecord*> refusals, integrity, checkpoints;
  // Release intents by instance and request, until a record of the same request says what
  // happened; those left may have sent a key without recording its outcome (a crash).
  std::map<std::pair<std::string, std::string>, const ParsedRecord*> openIntents;
  for (const auto& r : report.records) {
    const auto& a = r.record;
    if (!a.requestId.empty()) {
      if (a.operation == op::kKeyReleaseIntent) {
        openIntents[{a.instance, a.requestId}] = &r;
      } else if (a.operation != op::kTokenUnwrap) {
        openIntents.erase({a.instance, a.requestId});  // the outcome, not only the unwrap
      }
    }
    if (a.operation == op::kCheckpoint) {
      checkpoints.push_back(&r);
      continue;
    }
    if (a.operation == op::kLogOpen || a.operation == op::kLogRecovery) continue;
    ++perHour[hourOf(a.timeMicros)];
    ++outcomes[a.outcome];
    ++outcomeByOperation[a.operation][a.outcome];
    if (a.operation == op::kKeyRelease && a.outcome == outcome::kOk) ++releasesByUser[a.userId];
    if (a.operation == op::kKeyRefused || a.outcome == outcome::kDenied ||
        a.outcome == outcome::kNotFound || a.outcome == outcome::kRejected)
      refusals.push_back(&r);
    if (a.operation == op::kIntegrityFailure || a.outcome == outcome::kIntegrity)
      integrity.push_back(&r);
  }
  html += "<section id=\"activity\"><h2>Operations per hour (UTC)</h2>\n";
  html += barChart({perHour.begin(), perHour.end()}, "Operations per hour");
  html += "</section>\n";

  html += "<section id=\"outcomes\"><h2>Outcomes</h2>\n";
  html += barChart({outcomes.begin(), outcomes.end()}, "Records by outcome");
  if (!outcomeByOperation.empty()) {
    std::vector<std::string> columns;
    columns.reserve(outcomes.size());
    for (const auto& [name, count] : outcomes) columns.push_back(name);
    html += "<table><thead><tr><th>operation</th>";
    for (const auto& c : columns) html += "<th>" + escape(c) + "</th>";
    html += "</tr></thead><tbody>\n";
    for (const auto& [operation, counts] : outcomeByOperation) {
      html += "<tr><td>" + escape(operation) + "</td>";
      for (const auto& c : columns) {
        const auto found = counts.find(c);
        html += "<td class=\"num\">" + number(found == counts.end() ? 0 : found->second) + "</td>";
      }
      html += "</tr>\n";
    }
    html += "</tbody></table>\n";
  }
  html += "</section>\n";

  html += "<section id=\"top-users\"><h2>Top users by key releases</h2>\n";
  std::vector<std::pair<std::string, std::uint64_t>> users(releasesByUser.begin(),
                                                           releasesByUser.end());
  std::stable_sort(users.begin(), users.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (users.size() > 20) users.resize(20);
  if (users.empty()) {
    html += "<p class=\"empty\">No key releases.</p>\n";
  } else {
    html += "<table><thead><tr><th>user</th><th>key releases</th></tr></thead><tbody>\n";
    for (const auto& [user, count] : users)
      html +=
          "<tr><td>" + escape(user) + "</td><td class=\"num\">" + number(count) + "</td></tr>\n";
    html += "</tbody></table>\n";
  }
  html += "</section>\n";

  html += "<section id=\"refusals\"><h2>Refusals (" + number(refusals.size()) + ")</h2>\n";
  html += recordTable(refusals, "No refused requests.");
  html += "</section>\n";
  html += "<section id=\"integrity-failures\"><h2>Integrity failures (" + number(integrity.size()) +
          ")</h2>\n";
  html += recordTable(integrity, "No integrity failures.");
  html += "</section>\n";

  std::vector<const ParsedRecord*> unresolved;
  unresolved.reserve(openIntents.size());
  for (const auto& [request, record] : openIntents) unresolved.push_back(record);
  std::sort(unresolved.begin(), unresolved.end(), [](const auto* a, const auto* b) {
    return a->record.timeMicros < b->record.timeMicros;
  });
  html += "<section id=\"unresolved-intents\"><h2>Releases without an outcome (" +
          number(unresolved.size()) +
          ")</h2>\n<p>A release intent is durable before its key is sent; its outcome is written "
          "after. An intent with no outcome (the daemon stopped in between) may have sent the "
          "key.</p>\n";
  html += recordTable(unresolved, "Every release intent has its outcome.");
  html += "</section>\n";

  html += "<section id=\"checkpoints\"><h2>Checkpoints (" + number(checkpoints.size()) + ")</h2>\n";
  if (checkpoints.empty()) {
    html += "<p class=\"empty\">No checkpoints: nothing in these files is sealed.</p>\n";
  } else {
    html +=
        "<table><thead><tr><th>record</th><th>time (UTC)</th><th>instance</th><th>seq</th>"
        "<th>reason</th><th>audit key</th><th>chain head (prev)</th></tr></thead><tbody>\n";
    for (const auto* c : checkpoints) {
      const auto& a = c->record;
      html += "<tr><td>" + escape(c->file) + ":" + number(c->line) + "</td><td>" +
              escape(formatTime(a.timeMicros)) + "</td><td>" + escape(a.instance) +
              "</td><td class=\"num\">" + number(a.seq) + "</td><td>" + escape(a.detail) +
              "</td><td>" + escape(a.keyId) + "</td><td><code>" + escape(a.prev) +
              "</code></td></tr>\n";
    }
    html += "</tbody></table>\n";
  }
  html += "</section>\n</body></html>\n";
  return html;
}

}  // namespace kc::audit
