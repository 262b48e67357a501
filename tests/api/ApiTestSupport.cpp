#include "ApiTestSupport.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cctype>
#include <ctime>
#include <span>
#include <stdexcept>
#include <thread>

#include "kc/Base64.h"
#include "kc/api/StopServer.h"
#include "support/Subprocess.h"

namespace kc::test {
namespace {

std::span<const std::uint8_t> bytesOf(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string bigEndian(const BIGNUM* number) {
  std::string out(static_cast<std::size_t>(BN_num_bytes(number)), '\0');
  BN_bn2bin(number, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::unique_ptr<Poco::Net::HTTPServer> serveOnLoopback(
    Poco::Net::HTTPRequestHandlerFactory* factory, int& port,
    Poco::Net::Context::Ptr tls = nullptr) {
  Poco::Net::ServerSocket socket =
      tls ? Poco::Net::SecureServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0), 64, tls)
          : Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0));
  port = socket.address().port();
  auto params = Poco::makeAuto<Poco::Net::HTTPServerParams>();
  params->setMaxThreads(8);
  auto server = std::make_unique<Poco::Net::HTTPServer>(factory, socket, params);
  server->start();
  return server;
}

// The identity server's two documents.
class IdentityHandler : public Poco::Net::HTTPRequestHandler {
 public:
  IdentityHandler(std::shared_ptr<IdentityServer::State> state, std::atomic<int>& fetches)
      : state_(std::move(state)), fetches_(fetches) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    std::chrono::milliseconds delay{0};
    {
      const std::lock_guard lock(state_->mutex);
      if (request.getURI() == "/identity/.well-known/openid-configuration") {
        body = R"({"issuer":")" + state_->issuer + R"(","jwks_uri":")" + state_->jwksUri +
               R"(","authorization_endpoint":"x"})";
      } else if (request.getURI() == "/identity/.well-known/openid-configuration/jwks") {
        ++fetches_;
        body = state_->jwks;
        delay = state_->jwksDelay;
        if (!state_->cacheControl.empty()) response.set("Cache-Control", state_->cacheControl);
      } else {
        response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      }
    }
    std::this_thread::sleep_for(delay);
    response.setContentType("application/json");
    response.sendBuffer(body.data(), body.size());
  }

 private:
  std::shared_ptr<IdentityServer::State> state_;
  std::atomic<int>& fetches_;
};

class IdentityFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  IdentityFactory(std::shared_ptr<IdentityServer::State> state, std::atomic<int>& fetches)
      : state_(std::move(state)), fetches_(fetches) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new IdentityHandler(state_, fetches_);
  }

 private:
  std::shared_ptr<IdentityServer::State> state_;
  std::atomic<int>& fetches_;
};

}  // namespace

// --- signing ---

Signer::Signer(std::string kid, int bits) : kid_(std::move(kid)) {
  key_.reset(EVP_RSA_gen(static_cast<unsigned>(bits)), EVP_PKEY_free);
  if (!key_) throw std::runtime_error("RSA key generation failed");
}

std::string Signer::jwk(const std::string& use, const std::string& alg) const {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
  const std::string algMember = alg.empty() ? "" : R"(","alg":")" + alg;
  const std::string out = R"({"kty":"RSA","use":")" + use + R"(","kid":")" + kid_ + algMember +
                          R"(","n":")" + base64Url(bigEndian(n)) + R"(","e":")" +
                          base64Url(bigEndian(e)) + R"("})";
  BN_free(n);
  BN_free(e);
  return out;
}

std::string Signer::publicPem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string Signer::sign(const std::string& algorithm, const std::string& input) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  EVP_PKEY_CTX* keyContext = nullptr;
  EVP_DigestSignInit(context.get(), &keyContext, EVP_sha256(), nullptr, key_.get());
  if (algorithm == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t size = 0;
  EVP_DigestSign(context.get(), nullptr, &size,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string out(size, '\0');
  EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(out.data()), &size,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  out.resize(size);
  return out;
}

const Signer& signerA() {
  static const Signer signer("key-a");
  return signer;
}
const Signer& signerB() {
  static const Signer signer("key-b");
  return signer;
}
const Signer& foreignSigner() {
  static const Signer signer("key-a");  // same kid as A, a different key
  return signer;
}

std::string jwksOf(const std::vector<std::string>& jwks) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < jwks.size(); ++i) {
    if (i) out += ',';
    out += jwks[i];
  }
  return out + "]}";
}

std::string base64Url(const std::string& bytes) {
  return kc::encodeBase64Url(bytesOf(bytes));
}

std::string TokenClaims::payloadJson() const {
  const long long now = static_cast<long long>(std::time(nullptr));
  std::string out = R"({"iss":")" + issuer + R"(","sub":")" + subject + R"(")";
  if (amrJson) out += R"(,"amr":)" + *amrJson;
  if (scopeJson) out += R"(,"scope":)" + *scopeJson;
  if (expiresIn) out += R"(,"exp":)" + std::to_string(now + *expiresIn);
  if (notBeforeIn) out += R"(,"nbf":)" + std::to_string(now + *notBeforeIn);
  out += R"(,"iat":)" + std::to_string(now) + R"(,"aud":"other-audience"})";
  return out;
}

std::string assembleToken(const std::string& headerJson, const std::string& payloadJson,
                          const std::string& signature) {
  return base64Url(headerJson) + "." + base64Url(payloadJson) + "." + base64Url(signature);
}

std::string makeToken(const Signer& signer, const TokenClaims& claims, const std::string& algorithm,
                      std::optional<std::string> kid) {
  const std::string kidValue = kid.value_or(signer.kid());
  std::string header = R"({"alg":")" + algorithm + R"(","typ":"at+jwt")";
  if (!kidValue.empty()) header += R"(,"kid":")" + kidValue + R"(")";
  header += "}";
  const std::string input = base64Url(header) + "." + base64Url(claims.payloadJson());
  return input + "." + base64Url(signer.sign(algorithm, input));
}

std::string hmacSha256(const std::string& key, const std::string& input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// --- identity server ---

IdentityServer::IdentityServer(Transport transport) : state_(std::make_shared<State>()) {
  Poco::Net::Context::Ptr tls;
  if (transport == Transport::kHttps) {
    Poco::Net::initializeSSL();
    certificateDir_ = std::make_unique<TempDir>("kc-api-identity-tls");
    const auto key = (*certificateDir_ / "key.pem").string();
    const auto made = runProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                  "-keyout", key, "-out", caFile(), "-days", "1", "-subj",
                                  "/CN=identity", "-addext", "subjectAltName=IP:127.0.0.1"});
    if (made.exitCode != 0) throw std::runtime_error("openssl req failed: " + made.err);
    tls = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, key, caFile(), "",
                                 Poco::Net::Context::VERIFY_NONE);
  }
  server_ = serveOnLoopback(new IdentityFactory(state_, jwksFetches_), port_, tls);
  const std::lock_guard lock(state_->mutex);
  state_->issuer = uri();
  state_->jwksUri = uri() + "/.well-known/openid-configuration/jwks";
  state_->jwks = jwksOf({signerA().jwk()});
}

IdentityServer::~IdentityServer() {
  stop();
  if (certificateDir_) Poco::Net::uninitializeSSL();
}

std::string IdentityServer::uri() const {
  return std::string(certificateDir_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
         "/identity";
}

std::string IdentityServer::caFile() const {
  return certificateDir_ ? (*certificateDir_ / "cert.pem").string() : "";
}

void IdentityServer::setJwks(std::string jwks) {
  const std::lock_guard lock(state_->mutex);
  state_->jwks = std::move(jwks);
}

void IdentityServer::setJwksUri(std::string jwksUri) {
  const std::lock_guard lock(state_->mutex);
  state_->jwksUri = std::move(jwksUri);
}

void IdentityServer::setCacheControl(std::string cacheControl) {
  const std::lock_guard lock(state_->mutex);
  state_->cacheControl = std::move(cacheControl);
}

void IdentityServer::setJwksDelay(std::chrono::milliseconds delay) {
  const std::lock_guard lock(state_->mutex);
  state_->jwksDelay = delay;
}

void IdentityServer::stop() {
  if (server_) kc::api::stopServer(*server_);
  server_.reset();
}

// --- key service ---

namespace {

// As the real service: a context without a user is refused before anything else.
Status checkNamesUser(const api::RequestContext& context) {
  if (context.userId) return Status::ok();
  return {StatusCode::kInvalidArgument, "the request names no user"};
}

}  // namespace

Result<SecretBytes> MemoryKeyService::fetchUserKey(const api::RequestContext& context) {
  const std::lock_guard lock(mutex_);
  lastContext_ = context;
  if (!failure_.isOk()) return failure_;
  KC_RETURN_IF_ERROR(checkNamesUser(context));
  const auto it = keys_.find(*context.userId);
  if (it == keys_.end()) {
    return Status(StatusCode::kNotFound, "no key for " + context.userId->str());
  }
  return SecretBytes::fromString(it->second);
}

Status MemoryKeyService::depositUserKey(const api::RequestContext& context, const SecretBytes& key,
                                        api::DepositMode mode) {
  const std::lock_guard lock(mutex_);
  lastContext_ = context;
  if (!failure_.isOk()) return failure_;
  KC_RETURN_IF_ERROR(checkNamesUser(context));
  const UserId& user = *context.userId;
  if (mode == api::DepositMode::kCreateOnly && keys_.contains(user)) {
    return Status(StatusCode::kAlreadyExists, "user " + user.str() + " has a key");
  }
  keys_.insert_or_assign(user, std::string(reinterpret_cast<const char*>(key.data()), key.size()));
  return Status::ok();
}

api::HealthReport MemoryKeyService::checkHealth() {
  ++healthChecks_;
  std::chrono::milliseconds delay;
  {
    const std::lock_guard lock(mutex_);
    delay = healthCheckDelay_;
  }
  std::this_thread::sleep_for(delay);
  const std::lock_guard lock(mutex_);
  api::HealthReport report;
  report.healthy = healthy_;
  report.components.push_back({"token", healthy_, healthy_ ? "ok" : "slot 0 not present"});
  report.components.push_back({"database", true, "ok"});
  return report;
}

void MemoryKeyService::recordRefusal(const api::RequestContext& context, int httpStatus,
                                     std::string_view reason) {
  const std::lock_guard lock(mutex_);
  refusals_.push_back({httpStatus, std::string(reason), context.userId});
}

std::vector<MemoryKeyService::Refusal> MemoryKeyService::refusals() {
  const std::lock_guard lock(mutex_);
  return refusals_;
}

void MemoryKeyService::put(const UserId& userId, const std::string& key) {
  const std::lock_guard lock(mutex_);
  keys_.insert_or_assign(userId, key);
}

std::optional<std::string> MemoryKeyService::get(const UserId& userId) {
  const std::lock_guard lock(mutex_);
  const auto it = keys_.find(userId);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

void MemoryKeyService::failWith(Status status) {
  const std::lock_guard lock(mutex_);
  failure_ = std::move(status);
}

void MemoryKeyService::setHealthy(bool healthy) {
  const std::lock_guard lock(mutex_);
  healthy_ = healthy;
}

void MemoryKeyService::setHealthCheckDelay(std::chrono::milliseconds delay) {
  const std::lock_guard lock(mutex_);
  healthCheckDelay_ = delay;
}

api::RequestContext MemoryKeyService::lastContext() {
  const std::lock_guard lock(mutex_);
  return lastContext_;
}

// --- HTTP client ---

HttpAnswer call(int port, const HttpCall& call) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest request(call.method, call.path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : call.headers) request.set(name, value);
  if (call.chunked) {
    request.setChunkedTransferEncoding(true);
  } else if (call.declaredLength) {
    request.setContentLength64(*call.declaredLength);
  } else if (call.body) {
    request.setContentLength64(static_cast<Poco::Int64>(call.body->size()));
  }
  std::ostream& out = session.sendRequest(request);
  if (call.body) out << *call.body;
  out.flush();
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  HttpAnswer answer;
  answer.status = static_cast<int>(response.getStatus());
  for (const auto& [name, value] : response) answer.headers[lower(name)] = value;
  Poco::StreamCopier::copyToString(in, answer.body);
  return answer;
}

// --- the API ---

ApiServer::ApiServer(ApiServerOptions options) : identity_(options.identityTransport) {
  api::JwksSettings jwksSettings;
  jwksSettings.identityServerUri =
      options.identityUri.empty() ? identity_.uri() : options.identityUri;
  jwksSettings.jwksFile = options.jwksFile;
  jwksSettings.caFile = identity_.caFile();
  jwksSettings.allowInsecureHttp = options.allowInsecureHttp;
  jwksSettings.refreshInterval = options.refreshInterval;
  jwksSettings.connectTimeout = std::chrono::seconds(5);
  jwksSettings.readTimeout = std::chrono::seconds(5);
  if (options.adjustJwks) options.adjustJwks(jwksSettings);
  jwks_ = std::make_unique<api::JwksCache>(jwksSettings, &metrics_);
  if (options.loadAtStart) (void)jwks_->reload();
  api::JwtSettings jwtSettings;
  jwtSettings.issuer = options.issuer;
  validator_ = std::make_unique<api::JwtValidator>(*jwks_, jwtSettings);
  api::ApiSettings apiSettings;
  apiSettings.webVaultOrigin = options.webVaultOrigin;
  auto proxies = api::TrustedProxies::parse(options.trustedProxies);
  if (!proxies) throw std::runtime_error("trustedProxies: " + proxies.status().message());
  apiSettings.trustedProxies = std::move(*proxies);
  apiSettings.serveMetrics = options.publicMetrics;
  apiSettings.healthDetail = options.publicHealthDetail;
  apiSettings.writeTimeout = options.writeTimeout;
  health_ = std::make_shared<api::HealthCache>(keys_, api::HealthCache::kDefaultMaxAge, &metrics_);
  server_ = serveOnLoopback(
      new api::RequestHandlerFactory(keys_, *validator_, metrics_, apiSettings, health_), port_);
  admin_ = serveOnLoopback(
      new api::AdminRequestHandlerFactory(
          metrics_, health_, {.serveMetrics = true, .writeTimeout = options.writeTimeout}),
      adminPort_);
}

ApiServer::~ApiServer() {
  if (admin_) kc::api::stopServer(*admin_);
  if (server_) kc::api::stopServer(*server_);
}

TokenClaims ApiServer::defaultClaims() const {
  TokenClaims claims;
  claims.issuer = identity_.issuer();
  return claims;
}

std::string ApiServer::token(const TokenClaims& claims) const {
  return makeToken(signerA(), claims);
}

HttpAnswer ApiServer::userKeys(const std::string& method, const std::string& token,
                               std::optional<std::string> body,
                               const std::string& contentType) const {
  HttpCall request;
  request.method = method;
  request.path = "/user-keys";
  request.headers["Authorization"] = "Bearer " + token;
  request.headers["Accept"] = "application/json";
  if (body) {
    request.body = std::move(body);
    if (!contentType.empty()) request.headers["Content-Type"] = contentType;
  }
  return call(request);
}

std::string keyBase64(std::size_t bytes, char fill) {
  return kc::encodeBase64(bytesOf(std::string(bytes, fill)));
}

std::string keyBody(std::size_t bytes, const std::string& property) {
  return R"({")" + property + R"(":")" + keyBase64(bytes) + R"("})";
}

}  // namespace kc::test
