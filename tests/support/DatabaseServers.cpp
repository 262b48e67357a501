#include "support/DatabaseServers.h"

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "support/SecretLedger.h"

namespace kc::test {
namespace fs = std::filesystem;
namespace {

constexpr auto kStartupWait = std::chrono::seconds(90);

bool waitUntil(const std::function<bool()>& ready, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string tail(const fs::path& log) {
  std::error_code ec;
  if (!fs::exists(log, ec)) return "";
  std::string text = readFile(log);
  return text.size() > 1500 ? text.substr(text.size() - 1500) : text;
}

void chownTree(const fs::path& root, uid_t uid, gid_t gid) {
  if (::chown(root.c_str(), uid, gid) != 0) throw std::runtime_error("chown " + root.string());
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (::lchown(entry.path().c_str(), uid, gid) != 0) {
      throw std::runtime_error("chown " + entry.path().string());
    }
  }
}

std::string findPostgresBinDir() {
  std::error_code ec;
  std::string best;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = entry.path() / "bin";
    if (fs::exists(bin / "postgres") && fs::exists(bin / "initdb") && bin.string() > best) {
      best = bin.string();
    }
  }
  return best;
}

std::string findProgram(const std::vector<std::string>& candidates) {
  for (const auto& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::vector<std::string> asPostgres(std::vector<std::string> argv) {
  argv.insert(argv.begin(),
              {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"});
  return argv;
}

}  // namespace

bool databaseServersRequired() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string randomPassword() {
  std::random_device device;
  std::ostringstream out;
  for (int i = 0; i < 6; ++i) out << std::hex << device();
  recordSecret("password", out.str());
  return out.str();
}

// ---- PostgreSQL ----

std::unique_ptr<PostgresServer> PostgresServer::start(std::string& whyNot) {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->binDir_ = findPostgresBinDir();
  if (server->binDir_.empty()) {
    whyNot = "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/setup)";
    return nullptr;
  }
  const passwd* pg = ::getpwnam("postgres");
  if (pg == nullptr) {
    whyNot = "no `postgres` system user (install the postgresql package: scripts/setup)";
    return nullptr;
  }
  server->password_ = randomPassword();
  const fs::path dir = server->dir_.path();
  writeFile(dir / "pwfile", server->password_ + "\n");
  chownTree(dir, pg->pw_uid, pg->pw_gid);
  const auto init =
      runProcess(asPostgres({server->binDir_ + "/initdb", "-D", (dir / "data").string(), "-U",
                             server->user_, "--pwfile=" + (dir / "pwfile").string(),
                             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"}),
                 {.workingDir = dir.string()});
  if (init.exitCode != 0) {
    whyNot = "initdb failed: " + init.err + init.out;
    return nullptr;
  }
  server->port_ = freeLoopbackPort();
  if (!server->launch(whyNot)) return nullptr;
  return server;
}

bool PostgresServer::launch(std::string& whyNot) {
  const fs::path dir = dir_.path();
  // fsync=off keeps the suite fast; a killed server process still loses nothing it
  // acknowledged, since the kernel holds what it wrote.
  process_ = std::make_unique<BackgroundProcess>(
      asPostgres({binDir_ + "/postgres", "-D", (dir / "data").string(), "-c",
                  "listen_addresses=127.0.0.1", "-c", "port=" + std::to_string(port_), "-c",
                  "unix_socket_directories=" + dir.string(), "-c", "fsync=off", "-c",
                  "max_connections=200", "-c", "shared_buffers=32MB"}),
      (dir / "server.log").string(), ProcessOptions{.workingDir = dir.string()});
  const bool up = waitUntil(
      [&] {
        return runProcess(
                   {binDir_ + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_)})
                   .exitCode == 0;
      },
      kStartupWait);
  if (!up) whyNot = "PostgreSQL did not start: " + tail(dir / "server.log");
  return up;
}

PostgresServer::~PostgresServer() {
  if (process_) process_->stop(SIGINT, std::chrono::seconds(20));  // fast shutdown
}

std::string PostgresServer::createDatabase() {
  const std::string name = "kc_test_" + std::to_string(++databases_);
  const auto result =
      runProcess({binDir_ + "/psql", "-X", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_),
                  "-U", user_, "-d", "postgres", "-c", "CREATE DATABASE " + name},
                 {.env = {{"PGPASSWORD", password_}}});
  if (result.exitCode != 0) throw std::runtime_error("CREATE DATABASE failed: " + result.err);
  return name;
}

std::string PostgresServer::connectionString(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database + " user=" + user_ +
         " password=" + password_;
}

void PostgresServer::crash() {
  if (process_) process_->stop(SIGQUIT, std::chrono::seconds(20));  // immediate shutdown
  process_.reset();
}

void PostgresServer::restart() {
  std::string whyNot;
  if (!launch(whyNot)) throw std::runtime_error(whyNot);
}

// ---- MariaDB ----

std::unique_ptr<MariaDbServer> MariaDbServer::start(std::string& whyNot) {
  std::unique_ptr<MariaDbServer> server(new MariaDbServer());
  const std::string install =
      findProgram({"/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"});
  if (install.empty() || findProgram({"/usr/sbin/mariadbd"}).empty()) {
    whyNot = "MariaDB server (mariadbd, mariadb-install-db) not installed (run scripts/setup)";
    return nullptr;
  }
  server->password_ = randomPassword();
  const fs::path dir = server->dir_.path();
  // Each server keeps its temporary tables in its own folder: a MariaDB server deletes every
  // "#sql" file in its tmpdir at start-up, so servers of parallel tests sharing /tmp delete
  // each other's bootstrap tables.
  fs::create_directory(dir / "tmp");
  const auto init =
      runProcess({install, "--no-defaults", "--datadir=" + (dir / "data").string(), "--user=root",
                  "--auth-root-authentication-method=normal", "--skip-test-db",
                  "--skip-name-resolve", "--tmpdir=" + (dir / "tmp").string()},
                 {.workingDir = dir.string()});
  if (init.exitCode != 0) {
    whyNot = "mariadb-install-db failed: " + init.err + init.out;
    return nullptr;
  }
  server->port_ = freeLoopbackPort();
  if (!server->launch(whyNot)) return nullptr;
  const auto grant = server->runSql(
      "CREATE USER '" + server->user_ + "'@'127.0.0.1' IDENTIFIED BY '" + server->password_ +
      "'; GRANT ALL PRIVILEGES ON *.* TO '" + server->user_ + "'@'127.0.0.1';");
  if (grant.exitCode != 0) {
    whyNot = "cannot create the MariaDB test user: " + grant.err;
    return nullptr;
  }
  return server;
}

bool MariaDbServer::launch(std::string& whyNot) {
  const fs::path dir = dir_.path();
  // innodb_flush_log_at_trx_commit=2 writes the log at each commit and syncs it once a
  // second: a killed server process loses nothing it acknowledged.
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{
          "/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + (dir / "data").string(),
          "--user=root", "--bind-address=127.0.0.1", "--port=" + std::to_string(port_),
          "--tmpdir=" + (dir / "tmp").string(), "--socket=" + (dir / "mysqld.sock").string(),
          "--pid-file=" + (dir / "mysqld.pid").string(), "--skip-name-resolve", "--skip-log-bin",
          "--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=64M",
          "--max-connections=300", "--log-error=" + (dir / "server.log").string()},
      (dir / "stdout.log").string(), ProcessOptions{.workingDir = dir.string()});
  const bool up = waitUntil(
      [&] {
        return process_->running() &&
               runProcess({"mariadb-admin", "--no-defaults",
                           "--socket=" + (dir / "mysqld.sock").string(), "-u", "root", "ping"})
                       .exitCode == 0;
      },
      kStartupWait);
  if (!up) whyNot = "MariaDB did not start: " + tail(dir / "server.log");
  return up;
}

ProcessResult MariaDbServer::runSql(const std::string& sql) {
  return runProcess({"mariadb", "--no-defaults",
                     "--socket=" + (dir_.path() / "mysqld.sock").string(), "-u", "root", "-e",
                     sql});
}

MariaDbServer::~MariaDbServer() {
  if (process_) process_->stop(SIGTERM, std::chrono::seconds(30));
}

std::string MariaDbServer::createDatabase() {
  const std::string name = "kc_test_" + std::to_string(++databases_);
  const auto result = runSql("CREATE DATABASE " + name);
  if (result.exitCode != 0) throw std::runtime_error("CREATE DATABASE failed: " + result.err);
  return name;
}

std::string MariaDbServer::connectionString(const std::string& database) const {
  return "host=127.0.0.1;port=" + std::to_string(port_) + ";user=" + user_ +
         ";password=" + password_ + ";db=" + database;
}

void MariaDbServer::crash() {
  if (process_) process_->stop(SIGKILL, std::chrono::seconds(10));
  process_.reset();
}

void MariaDbServer::restart() {
  std::string whyNot;
  if (!launch(whyNot)) throw std::runtime_error(whyNot);
}

// ---- shared instances ----

namespace {

template <typename Server>
Server* shared(std::string& whyNot) {
  static std::mutex mutex;
  static std::unique_ptr<Server> server;
  static std::string failure;
  static bool tried = false;
  std::lock_guard lock(mutex);
  if (!tried) {
    tried = true;
    try {
      server = Server::start(failure);
    } catch (const std::exception& error) {
      failure = error.what();
    }
  }
  whyNot = failure;
  return server.get();
}

std::string findDriver(const std::string& package, const std::string& fileName) {
  const auto listing = runProcess({"dpkg", "-L", package});
  std::istringstream lines(listing.out);
  for (std::string line; std::getline(lines, line);) {
    if (fs::path(line).filename() == fileName) return line;
  }
  return "";
}

}  // namespace

PostgresServer* sharedPostgres(std::string& whyNot) {
  return shared<PostgresServer>(whyNot);
}
MariaDbServer* sharedMariaDb(std::string& whyNot) {
  return shared<MariaDbServer>(whyNot);
}

const OdbcDrivers* sharedOdbcDrivers(std::string& whyNot) {
  static std::mutex mutex;
  static std::unique_ptr<TempDir> dir;
  static std::unique_ptr<OdbcDrivers> drivers;
  static std::string failure;
  std::lock_guard lock(mutex);
  if (!drivers && failure.empty()) {
    const std::string postgres = findDriver("odbc-postgresql", "psqlodbcw.so");
    if (postgres.empty()) {
      failure = "ODBC driver not installed (odbc-postgresql: run scripts/setup)";
    } else {
      dir = std::make_unique<TempDir>("kc-odbc");
      OdbcDrivers names;
      writeFile(dir->path() / "odbcinst.ini",
                "[" + names.postgres + "]\nDriver=" + postgres + "\nThreading=2\n");
      writeFile(dir->path() / "odbc.ini", "");
      ::setenv("ODBCSYSINI", dir->path().c_str(), 1);
      drivers = std::make_unique<OdbcDrivers>(names);
    }
  }
  whyNot = failure;
  return drivers.get();
}

}  // namespace kc::test
