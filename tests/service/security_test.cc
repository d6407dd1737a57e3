// Who may talk to accelpackd, and what it does to the file system at --socket:
// the daemon as a real process, called by role_client as other local users
// (created here with useradd; root only, skipped otherwise) and over TCP with TLS
// client certificates from contrib/make-test-ca.sh.
// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "process_memory.h"
#include "service/unix_listener.h"

namespace accelpack::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A process started with fork/exec; optionally as another user, with a umask.
struct Identity {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

pid_t Spawn(const std::vector<std::string>& argv, const fs::path& output,
            std::optional<Identity> as = std::nullopt, std::optional<mode_t> umask = std::nullopt) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string out = output.string();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls from here on.
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) ::_exit(126);
  if (umask.has_value()) ::umask(*umask);
  if (as.has_value()) {
    if (::setgroups(as->groups.size(), as->groups.data()) != 0 || ::setgid(as->gid) != 0 ||
        ::setuid(as->uid) != 0)
      ::_exit(125);
  }
  ::execv(args[0], args.data());
  ::_exit(127);
}

// Exit status, or nullopt (and the process killed) when it runs past `limit`.
std::optional<int> WaitFor(pid_t pid, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  int status = 0;
  while (Clock::now() < end) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return std::nullopt;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// ACCELPACKD_UNDER_TEST runs these against another build (e.g. to see them fail on
// an older daemon).
std::string DaemonPath() {
  const char* path = std::getenv("ACCELPACKD_UNDER_TEST");
  return path != nullptr ? path : ACCELPACKD_PATH;
}

bool IsSocket(const fs::path& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

class SocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("apsec-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms(0755));  // other users must reach the socket
    socket_ = dir_ / "core.sock";
    log_ = dir_ / "daemon.log";
  }
  void TearDown() override {
    if (daemon_ > 0) {
      ::kill(daemon_, SIGKILL);
      ::waitpid(daemon_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Starts accelpackd and waits until the log says it listens.
  void StartDaemon(std::vector<std::string> extra, std::optional<mode_t> umask = std::nullopt) {
    std::vector<std::string> argv = {DaemonPath(), "--log-level", "debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    fs::remove(log_);  // not a previous run's "in force"
    daemon_ = Spawn(argv, log_, std::nullopt, umask);
    ASSERT_TRUE(WaitUntil([&] { return ReadAll(log_).find("in force") != std::string::npos; },
                          std::chrono::seconds(20)))
        << "accelpackd did not start:\n"
        << ReadAll(log_);
  }
  // A test CA in `ca` and accelpackd on a TCP port with its server certificate: the
  // client target ("127.0.0.1:PORT"), empty if it did not start.
  std::string StartTlsDaemon(const fs::path& ca, const std::vector<std::string>& extra = {}) {
    if (std::system((std::string(MAKE_TEST_CA) + " " + ca.string() + " >/dev/null").c_str()) != 0)
      return {};
    std::vector<std::string> args = {"--socket",        "",
                                     "--listen",        "0.0.0.0:0",
                                     "--tls-cert",      File(ca, "server.pem"),
                                     "--tls-key",       File(ca, "server.key"),
                                     "--tls-client-ca", File(ca, "ca.pem")};
    args.insert(args.end(), extra.begin(), extra.end());
    StartDaemon(args);
    std::smatch port;
    const std::string log = ReadAll(log_);
    if (!std::regex_search(log, port, std::regex("listening on 0\\.0\\.0\\.0:0 port (\\d+)")))
      return {};
    return "127.0.0.1:" + port[1].str();
  }
  static std::string File(const fs::path& dir, const char* name) { return (dir / name).string(); }

  // Runs accelpackd expecting it to refuse to start; returns its output.
  std::string DaemonRefuses(std::vector<std::string> extra) {
    std::vector<std::string> argv = {DaemonPath()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const fs::path out = dir_ / "refused.log";
    const std::optional<int> status = WaitFor(Spawn(argv, out), std::chrono::seconds(10));
    EXPECT_TRUE(status.has_value()) << "accelpackd ran instead of refusing: " << ReadAll(out);
    EXPECT_NE(status.value_or(0), 0);
    return ReadAll(out);
  }
  int StopDaemon() {
    ::kill(daemon_, SIGTERM);
    const std::optional<int> status = WaitFor(daemon_, std::chrono::seconds(20));
    daemon_ = -1;
    return status.value_or(-1);
  }
  // role_client's "GetStatus=N Schedule=M" line.
  std::string RunClient(std::vector<std::string> args, std::optional<Identity> as = std::nullopt) {
    args.insert(args.begin(), client_path_.string());
    const fs::path out = dir_ / "client.out";
    const std::optional<int> status = WaitFor(Spawn(args, out, as), std::chrono::seconds(30));
    const std::string text = ReadAll(out);
    EXPECT_EQ(status, 0) << text;
    const size_t first_end = text.find('\n');
    const size_t second_end = text.find('\n', first_end + 1);
    other_calls_ = first_end == std::string::npos
                       ? std::string()
                       : text.substr(first_end + 1, second_end - first_end - 1);
    return text.substr(0, first_end);
  }
  // The codes of role_client's second line ("Explain=9 ... Unknown=12") of the last run.
  std::map<std::string, int> OtherCalls() const {
    std::map<std::string, int> codes;
    std::istringstream fields(other_calls_);
    std::string field;
    while (fields >> field) {
      const size_t eq = field.find('=');
      if (eq != std::string::npos) codes[field.substr(0, eq)] = std::stoi(field.substr(eq + 1));
    }
    return codes;
  }
  // Every Operations call and the health check answered `code` (or, with `allowed`,
  // anything but PERMISSION_DENIED and UNIMPLEMENTED); the unknown method `unknown`.
  void ExpectOtherCalls(bool allowed, int unknown) const {
    const std::map<std::string, int> codes = OtherCalls();
    EXPECT_EQ(codes.size(), 8u) << other_calls_;
    for (const auto& [call, code] : codes) {
      if (call == "Unknown") {
        EXPECT_EQ(code, unknown) << call << " in " << other_calls_;
      } else if (allowed) {
        EXPECT_NE(code, 7) << call << " in " << other_calls_;   // PERMISSION_DENIED
        EXPECT_NE(code, 12) << call << " in " << other_calls_;  // UNIMPLEMENTED
      } else {
        EXPECT_EQ(code, 7) << call << " in " << other_calls_;
      }
    }
  }

  fs::path dir_;
  fs::path socket_;
  fs::path log_;
  fs::path client_path_ = ROLE_CLIENT_PATH;
  pid_t daemon_ = -1;
  std::string other_calls_;
};

// A typo such as --socket /etc/slurm/slurm.conf used to delete that file.
TEST_F(SocketTest, RefusesToReplaceARegularFile) {
  const fs::path precious = dir_ / "slurm.conf";
  std::ofstream(precious) << "ClusterName=keep\n";
  EXPECT_THAT(DaemonRefuses({"--socket", precious.string()}),
              HasSubstr("a regular file is there, not a socket; refusing to replace it"));
  EXPECT_EQ(ReadAll(precious), "ClusterName=keep\n");
}

TEST_F(SocketTest, RefusesToReplaceADirectory) {
  fs::create_directory(dir_ / "empty");
  EXPECT_THAT(DaemonRefuses({"--socket", (dir_ / "empty").string()}),
              HasSubstr("a directory is there, not a socket"));
  EXPECT_TRUE(fs::is_directory(dir_ / "empty"));
}

TEST_F(SocketTest, ReplacesItsOwnStaleSocket) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);  // a dead daemon's socket: nobody listens
  StartDaemon({"--socket", socket_.string()});
  EXPECT_THAT(ReadAll(log_), HasSubstr("removed stale socket"));
  EXPECT_EQ(RunClient({"unix:" + socket_.string()}), "GetStatus=0 Schedule=0");
}

// At shutdown it removed whatever was at the path, even another daemon's socket.
TEST_F(SocketTest, RemovesOnlyTheSocketItCreated) {
  StartDaemon({"--socket", socket_.string()});
  ASSERT_TRUE(IsSocket(socket_));
  fs::remove(socket_);
  std::ofstream(socket_) << "someone else's\n";  // another file now at the path
  EXPECT_EQ(StopDaemon(), 0);
  EXPECT_EQ(ReadAll(socket_), "someone else's\n");
  EXPECT_THAT(ReadAll(log_), HasSubstr("no longer the socket accelpackd created"));

  fs::remove(socket_);
  StartDaemon({"--socket", socket_.string()});
  EXPECT_EQ(StopDaemon(), 0);
  EXPECT_FALSE(fs::exists(socket_)) << "its own socket is removed";
}

// SIGTERM killed the daemon outright (exit 143, socket left behind) when it arrived
// while the signal thread was not in sigwait: the operator hub's worker thread started
// before the signals were blocked, and the kernel gave the signal to it. Every thread
// must block them, so that only sigwait ever takes them.
TEST_F(SocketTest, EveryThreadBlocksTheShutdownSignals) {
  StartDaemon({"--socket", socket_.string()});
  int threads = 0;
  for (const auto& task :
       fs::directory_iterator(fs::path("/proc") / std::to_string(daemon_) / "task")) {
    // The main thread is the one that takes them: in sigwait the kernel shows them
    // unblocked there for as long as it waits.
    if (task.path().filename() == std::to_string(daemon_)) continue;
    std::ifstream status(task.path() / "status");
    std::string line;
    unsigned long long blocked = 0;
    while (std::getline(status, line)) {
      if (line.rfind("SigBlk:", 0) == 0) blocked = std::stoull(line.substr(7), nullptr, 16);
    }
    for (int signal_number : {SIGHUP, SIGINT, SIGTERM}) {
      EXPECT_TRUE(blocked & (1ULL << (signal_number - 1)))
          << "thread " << task.path().filename() << " does not block signal " << signal_number;
    }
    ++threads;
  }
  EXPECT_GT(threads, 0);  // gRPC's, the listener's and the hub's
  EXPECT_EQ(StopDaemon(), 0);
}

// Under umask 000 the directory came out 0777 and others could connect before chmod.
TEST_F(SocketTest, UnderUmask000TheDirectoryAndSocketAreNotOpenToOthers) {
  const fs::path nested = dir_ / "run" / "core.sock";
  StartDaemon({"--socket", nested.string(), "--socket-mode", "0660"}, mode_t{0});
  struct stat info {};
  ASSERT_EQ(::stat((dir_ / "run").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat(nested.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0660u);
}

TEST_F(SocketTest, RefusesADirectoryOthersMayWrite) {
  fs::create_directory(dir_ / "open");
  fs::permissions(dir_ / "open", fs::perms(0777));
  EXPECT_THAT(DaemonRefuses({"--socket", (dir_ / "open" / "core.sock").string()}),
              HasSubstr("writable by group or others"));
}

TEST(ParseSocketMode, OctalDigitsOnlyUpTo0777) {
  EXPECT_EQ(service::ParseSocketMode("0660").value(), 0660u);
  EXPECT_EQ(service::ParseSocketMode("600").value(), 0600u);
  EXPECT_EQ(service::ParseSocketMode("0777").value(), 0777u);
  for (const char* bad : {"0669", "-1", "0660abc", "0o660", "1777", "", "07777", " 660"}) {
    EXPECT_FALSE(service::ParseSocketMode(bad).ok()) << bad;
  }
}

TEST_F(SocketTest, BadSocketModeStopsTheDaemon) {
  // 0669 used to be read as 066 and the daemon ran.
  EXPECT_THAT(DaemonRefuses({"--socket", socket_.string(), "--socket-mode", "0669"}),
              HasSubstr("--socket-mode 0669: expected octal permissions up to 0777"));
  EXPECT_FALSE(fs::exists(socket_));
}

// ---------------------------------------------------------------- roles by peer uid

// Three local users made for the test: a SlurmUser, an operator (member of the
// operators' group) and an outsider.
class OtherUsers : public SocketTest {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    const std::string tag = std::to_string(::getpid() % 1000000);
    group_ = "apg" + tag;
    slurm_ = "aps" + tag;
    operator_ = "apo" + tag;
    outsider_ = "apx" + tag;
    // Tests run as parallel processes: useradd may find /etc/passwd locked; retry.
    for (int attempt = 0; attempt < 5 && !created_; ++attempt) {
      created_ =
          std::system(("groupadd " + group_ + " && useradd -M -N -s /usr/sbin/nologin " + slurm_ +
                       " && useradd -M -N -s /usr/sbin/nologin -G " + group_ + " " + operator_ +
                       " && useradd -M -N -s /usr/sbin/nologin " + outsider_ + " >/dev/null 2>&1")
                          .c_str()) == 0;
      if (!created_) {
        RemoveUsers();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }
  static void RemoveUsers() {
    const int ignored = std::system(("userdel " + slurm_ + "; userdel " + operator_ + "; userdel " +
                                     outsider_ + "; groupdel " + group_ + " >/dev/null 2>&1")
                                        .c_str());
    (void)ignored;
  }
  static void TearDownTestSuite() {
    if (!group_.empty()) RemoveUsers();
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create local users (useradd)";
    if (!created_) GTEST_SKIP() << "useradd/groupadd failed: cannot create the test users";
    SocketTest::SetUp();
    // Other users must be able to run the client: copy it beside the socket.
    const fs::path copy = dir_ / "role_client";
    fs::copy_file(client_path_, copy);
    fs::permissions(copy, fs::perms(0755));
    client_path_ = copy;
  }
  static Identity As(const std::string& user) {
    const passwd* entry = ::getpwnam(user.c_str());
    EXPECT_NE(entry, nullptr) << user;
    Identity identity{entry->pw_uid, entry->pw_gid, {}};
    int count = 32;
    identity.groups.resize(static_cast<size_t>(count));
    ::getgrouplist(user.c_str(), entry->pw_gid, identity.groups.data(), &count);
    identity.groups.resize(static_cast<size_t>(count));
    return identity;
  }

  static inline std::string group_, slurm_, operator_, outsider_;
  static inline bool created_ = false;
};

TEST_F(OtherUsers, ScheduleOnlyFromSlurmUserOrRootStatusAlsoFromOperators) {
  // 0666: the file system lets everyone connect, so what refuses is the peer check.
  StartDaemon({"--socket", socket_.string(), "--socket-mode", "0666", "--slurm-user", slurm_,
               "--operator-group", group_});
  const std::string target = "unix:" + socket_.string();
  EXPECT_EQ(RunClient({target}, As(slurm_)), "GetStatus=0 Schedule=0");
  ExpectOtherCalls(/*allowed=*/true, /*unknown=*/12);
  EXPECT_EQ(RunClient({target}), "GetStatus=0 Schedule=0");  // root
  ExpectOtherCalls(true, 12);
  // PERMISSION_DENIED is 7.
  EXPECT_EQ(RunClient({target}, As(operator_)), "GetStatus=0 Schedule=7");
  ExpectOtherCalls(true, 12);  // the operators' calls are read-only
  // The outsider: every call of every service, health and unknown names too (they
  // used to answer UNIMPLEMENTED for Operations, as if the service were missing).
  EXPECT_EQ(RunClient({target}, As(outsider_)), "GetStatus=7 Schedule=7");
  ExpectOtherCalls(false, 7);

  const std::string log = ReadAll(log_);
  const std::string outsider_uid = std::to_string(As(outsider_).uid);
  EXPECT_THAT(log,
              HasSubstr("refused connection on " + socket_.string() + " from uid " + outsider_uid));
  EXPECT_THAT(log, HasSubstr("refused Schedule from"));
  // Each of the outsider's refused calls is logged with its uid.
  for (const char* method :
       {"/accelpack.v1.Placement/GetStatus", "/accelpack.v1.Operations/Explain",
        "/accelpack.v1.Operations/GetPolicy", "/grpc.health.v1.Health/Check"}) {
    EXPECT_THAT(log, HasSubstr(std::string("refused ") + method + " from uid " + outsider_uid))
        << method;
  }
  // Two accepted cycles only (SlurmUser, root): refused snapshots replaced nothing.
  size_t accepted = 0;
  for (size_t at = log.find("cycle from role_client"); at != std::string::npos;
       at = log.find("cycle from role_client", at + 1))
    ++accepted;
  EXPECT_EQ(accepted, 2u);
}

// gRPC parses a request before the role check: a reader's door takes at most 4 MiB
// (a policy to compare is at most 1 MiB), so a reader cannot make accelpackd parse a
// snapshot-sized request (an 8 MiB one raised its peak memory by over a GB).
TEST_F(OtherUsers, AReadersRequestIsBoundedBeforeItIsParsed) {
  StartDaemon({"--socket", socket_.string(), "--socket-mode", "0666", "--slurm-user", slurm_,
               "--operator-group", group_});
  const std::string target = "unix:" + socket_.string();
  ::setenv("ROLE_CLIENT_PAD_MIB", "8", 1);
  // RESOURCE_EXHAUSTED is 8: refused unread, not parsed and then denied (7).
  EXPECT_EQ(RunClient({target}, As(operator_)), "GetStatus=0 Schedule=8");
  ::unsetenv("ROLE_CLIENT_PAD_MIB");
  EXPECT_EQ(RunClient({target}, As(operator_)), "GetStatus=0 Schedule=7");
}

TEST_F(OtherUsers, SocketModeStillKeepsOthersOut) {
  StartDaemon({"--socket", socket_.string(), "--socket-group", group_});
  const std::string target = "unix:" + socket_.string();
  // The outsider cannot even open the 0660 socket; the operator group owns it.
  const std::string outsider = RunClient({target}, As(outsider_));
  EXPECT_THAT(outsider, Not(HasSubstr("GetStatus=0")));
  EXPECT_EQ(RunClient({target}, As(operator_)), "GetStatus=0 Schedule=7");
  ExpectOtherCalls(true, 12);
  struct stat info {};
  ASSERT_EQ(::lstat(socket_.c_str(), &info), 0);
  EXPECT_EQ(info.st_gid, ::getgrnam(group_.c_str())->gr_gid);
}

// ---------------------------------------------------------------- TCP with TLS

TEST_F(SocketTest, TcpWithoutTlsIsRefused) {
  EXPECT_THAT(DaemonRefuses({"--socket", "", "--listen", "127.0.0.1:0"}),
              HasSubstr("TCP is served only with TLS and client certificates"));
  EXPECT_THAT(DaemonRefuses({"--socket", "", "--listen-readers", "127.0.0.1:0"}),
              HasSubstr("--listen-readers 127.0.0.1:0: TCP is served only with TLS"));
}

TEST_F(SocketTest, TlsClientCertificatesDecideTheRole) {
  const fs::path ca = dir_ / "ca";
  const fs::path other = dir_ / "other-ca";
  ASSERT_EQ(std::system((std::string(MAKE_TEST_CA) + " " + other.string() +
                         " localhost slurmctld >/dev/null")
                            .c_str()),
            0);
  const std::string target = StartTlsDaemon(ca);
  ASSERT_FALSE(target.empty()) << ReadAll(log_);

  EXPECT_EQ(
      RunClient({target, File(ca, "ca.pem"), File(ca, "slurmctld.pem"), File(ca, "slurmctld.key")}),
      "GetStatus=0 Schedule=0");
  // A reader's certificate: nothing on the schedulers' port (--listen-readers is theirs).
  EXPECT_EQ(
      RunClient({target, File(ca, "ca.pem"), File(ca, "operator.pem"), File(ca, "operator.key")}),
      "GetStatus=7 Schedule=7");
  ExpectOtherCalls(false, 7);
  // No client certificate, or one from another CA: the handshake fails (UNAVAILABLE).
  EXPECT_EQ(RunClient({target, File(ca, "ca.pem")}), "GetStatus=14 Schedule=14");
  EXPECT_EQ(RunClient({target, File(ca, "ca.pem"), File(other, "slurmctld.pem"),
                       File(other, "slurmctld.key")}),
            "GetStatus=14 Schedule=14");

  // 0.0.0.0:0 used to open two ports (a SO_REUSEPORT clone) and report one.
  std::string line;
  std::set<std::string> inodes;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(daemon_) + "/fd")) {
    const std::string link = fs::read_symlink(entry.path()).string();
    if (link.rfind("socket:[", 0) == 0) inodes.insert(link.substr(8, link.size() - 9));
  }
  size_t listening = 0;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(daemon_) + "/net/" + std::string(table));
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (state == "0A" && inodes.contains(inode)) ++listening;  // 0A: LISTEN
    }
  }
  EXPECT_EQ(listening, 1u) << "TCP ports the daemon listens on";
}

// The schedulers' port takes 256 MiB, and gRPC parses a request before the service's
// role check (8 MiB of empty jobs parsed into 1.3 GB): a reader's calls there end at
// their headers, unread, whatever they are.
TEST_F(SocketTest, TlsReaderCallsOnTheSchedulersPortEndAtTheirHeaders) {
  if (kUnderAddressSanitizer) GTEST_SKIP() << "peak memory is measured in the normal build";
  const fs::path ca = dir_ / "ca";
  const std::string target = StartTlsDaemon(ca);
  ASSERT_FALSE(target.empty()) << ReadAll(log_);
  const std::vector<std::string> reader = {target, File(ca, "ca.pem"), File(ca, "operator.pem"),
                                           File(ca, "operator.key")};
  EXPECT_EQ(RunClient(reader), "GetStatus=7 Schedule=7");  // the daemon's footprint, warm
  const int64_t before_kib = PeakRssKib(daemon_);
  ::setenv("ROLE_CLIENT_PAD_MIB", "8", 1);  // the snapshot and the policy to compare
  EXPECT_EQ(RunClient(reader), "GetStatus=7 Schedule=7");
  ::unsetenv("ROLE_CLIENT_PAD_MIB");
  ExpectOtherCalls(false, 7);
  const int64_t grown_kib = PeakRssKib(daemon_) - before_kib;
  EXPECT_LT(grown_kib, 48 * 1024) << "the reader's 8 MiB calls raised the peak by " << grown_kib
                                  << " KiB";
  EXPECT_THAT(ReadAll(log_), HasSubstr("refused /accelpack.v1.Placement/Schedule from certificate "
                                       "operator (reader), before reading it"));
  // The scheduler's certificate is read and parsed: its padded snapshot (jobs without
  // a shape) is refused by validation, INVALID_ARGUMENT (3), not before.
  ::setenv("ROLE_CLIENT_PAD_MIB", "1", 1);
  EXPECT_EQ(
      RunClient({target, File(ca, "ca.pem"), File(ca, "slurmctld.pem"), File(ca, "slurmctld.key")}),
      "GetStatus=0 Schedule=3");
  ::unsetenv("ROLE_CLIENT_PAD_MIB");
}

// --listen-readers: readers' certificates get a port of their own with the Unix
// socket's reader limits, while --listen serves scheduler certificates only, so no
// certificate but a scheduler's reaches the schedulers' 256 MiB door.
TEST_F(SocketTest, TlsReadersPortKeepsReadersOffTheSchedulersDoor) {
  const fs::path ca = dir_ / "ca";
  const std::string target = StartTlsDaemon(ca, {"--listen-readers", "127.0.0.1:0"});
  ASSERT_FALSE(target.empty()) << ReadAll(log_);
  std::smatch port;
  const std::string log = ReadAll(log_);
  ASSERT_TRUE(std::regex_search(
      log, port, std::regex("listening for readers on 127\\.0\\.0\\.1:0 port (\\d+)")))
      << log;
  const std::string readers = "127.0.0.1:" + port[1].str();
  const auto as = [&](const std::string& at, const char* who) {
    return std::vector<std::string>{at, File(ca, "ca.pem"),
                                    File(ca, (std::string(who) + ".pem").c_str()),
                                    File(ca, (std::string(who) + ".key").c_str())};
  };
  // The schedulers' port: the scheduler's certificate everything, a reader's nothing
  // (PERMISSION_DENIED at its headers, every call, unknown names too).
  EXPECT_EQ(RunClient(as(target, "slurmctld")), "GetStatus=0 Schedule=0");
  ExpectOtherCalls(true, 12);
  EXPECT_EQ(RunClient(as(target, "operator")), "GetStatus=7 Schedule=7");
  ExpectOtherCalls(false, 7);
  // The readers' port: reads for every certificate, Schedule for none.
  EXPECT_EQ(RunClient(as(readers, "operator")), "GetStatus=0 Schedule=7");
  ExpectOtherCalls(true, 12);
  EXPECT_EQ(RunClient(as(readers, "slurmctld")), "GetStatus=0 Schedule=7");
  // Its requests are bounded as the Unix socket's readers' are: an 8 MiB policy to
  // compare is refused unread (RESOURCE_EXHAUSTED, 8), not parsed (INVALID_ARGUMENT).
  ::setenv("ROLE_CLIENT_PAD_MIB", "8", 1);
  EXPECT_EQ(RunClient(as(readers, "operator")), "GetStatus=0 Schedule=7");
  ::unsetenv("ROLE_CLIENT_PAD_MIB");
  EXPECT_EQ(OtherCalls()["DiffPolicy"], 8) << other_calls_;
  EXPECT_THAT(ReadAll(log_), HasSubstr("readers use --listen-readers"));
}

}  // namespace
}  // namespace accelpack::testing
