// What a Bitwarden client's key fetch costs through the whole daemon, next to the token's
// physical limit.
//
//   build/bench/daemon_bench [google-benchmark flags]
//
// Starts keyconnectord (SoftHSM token with a 2048-bit wrapping key, SQLite, audit log on
// local disk) on a loopback port, deposits keys for 64 users, then at 1, 2, 4 and 8 client
// threads, interleaved: the token's raw RSA-OAEP decrypt rate (this process, same token and
// key) and GET /user-keys over keep-alive connections (JWT verification, store read, unwrap
// on the token, the audit intent record made durable). Client and daemon share the machine's
// cores.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <benchmark/benchmark.h>

#include <atomic>
#include <iostream>

#include "DaemonFixture.h"
#include "RateTable.h"
#include "kc/pkcs11/Pkcs11Uri.h"

namespace {

using kc::test::Daemon;
using kc::test::E2eEnvironment;

constexpr int kMaxThreads = 8;
constexpr int kUsers = 64;

struct Fixture {
  Daemon daemon{kc::test::DaemonOptions{
      .config = {{"server.workers", "16"}, {"pkcs11.sessions", "8"}, {"log.level", "warning"}}}};
  std::vector<std::string> tokens = deposit();
  std::shared_ptr<kc::pkcs11::SessionPool> pool =
      E2eEnvironment::get().token().openPool({.size = kMaxThreads});
  kc::pkcs11::RsaKeyPair key = findKey();
  kc::pkcs11::OaepCiphertext probe = encrypt();

  std::vector<std::string> deposit() {
    std::vector<std::string> out;
    for (int i = 0; i < kUsers; ++i) {
      const std::string user = E2eEnvironment::newUserId();
      out.push_back(E2eEnvironment::get().tokenFor(user));
      auto response =
          daemon.sendKey("PUT", out.back(), kc::test::keyBody(kc::test::randomKeyBase64(64)));
      if (response.status != 200) throw std::runtime_error("deposit failed: " + response.body);
    }
    return out;
  }
  kc::pkcs11::RsaKeyPair findKey() {
    auto uri = kc::pkcs11::Pkcs11Uri::parse("pkcs11:object=e2e-wrap;type=private");
    auto found = kc::pkcs11::RsaKeyPair::find(pool, *uri);
    if (!found) throw std::runtime_error(found.status().toString());
    return *found;
  }
  kc::pkcs11::OaepCiphertext encrypt() {
    auto out = key.encrypt(std::vector<std::uint8_t>(32, 0x5A));
    if (!out) throw std::runtime_error(out.status().toString());
    return *out;
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void BM_TokenDecrypt(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    if (!f.key.decrypt(f.probe.bytes, f.probe.hash)) {
      state.SkipWithError("decrypt failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_HttpFetch(benchmark::State& state) {
  auto& f = fixture();
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(f.daemon.port()));
  session.setKeepAlive(true);
  session.setTimeout(Poco::Timespan(30, 0));
  std::size_t n = static_cast<std::size_t>(state.thread_index());
  std::string body;
  for (auto _ : state) {
    Poco::Net::HTTPRequest request("GET", "/user-keys", Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    request.set("Authorization", "Bearer " + f.tokens[n++ % f.tokens.size()]);
    request.set("Accept", "application/json");
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    body.clear();
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
      state.SkipWithError(
          ("GET /user-keys answered " + std::to_string(response.getStatus())).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void printSummary(const kc::bench::RateCollector& rates, std::ostream& out) {
  out << "\nGET /user-keys through keyconnectord vs the token's raw RSA-OAEP decrypt rate "
         "(2048-bit key, SoftHSM, SQLite, audit on)\n"
      << "threads  token ops/s  http req/s  http/token\n";
  for (int threads : rates.threadCounts("BM_TokenDecrypt")) {
    const double token = rates.rate("BM_TokenDecrypt", threads);
    const double http = rates.rate("BM_HttpFetch", threads);
    char line[128];
    std::snprintf(line, sizeof line, "%7d  %11.0f  %10.0f  %10.3f\n", threads, token, http,
                  http / token);
    out << line;
  }
}

}  // namespace

int main(int argc, char** argv) {
  kc::bench::registerInterleaved(
      {{"BM_TokenDecrypt", BM_TokenDecrypt}, {"BM_HttpFetch", BM_HttpFetch}}, kMaxThreads);
  kc::bench::RateCollector rates;
  kc::bench::runBenchmarks(std::vector<char*>(argv, argv + argc), rates);
  printSummary(rates, std::cout);
  return 0;
}
