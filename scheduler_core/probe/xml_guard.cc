// SPDX-License-Identifier: GPL-2.0-or-later
#include "probe/xml_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace accelpack::probe {
namespace {

constexpr size_t kMaxChildMessage = 4096;

// Position just past `terminator` at or after `from`, or npos.
size_t After(absl::string_view xml, size_t from, absl::string_view terminator) {
  const size_t at = xml.find(terminator, from);
  return at == absl::string_view::npos ? at : at + terminator.size();
}

// Position just past the '>' that closes the tag opened at `open`, skipping quoted
// attribute values (which may hold '>'); npos when the tag never closes.
size_t TagEnd(absl::string_view xml, size_t open) {
  char quote = 0;
  for (size_t i = open + 1; i < xml.size(); ++i) {
    const char c = xml[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i + 1;
    }
  }
  return absl::string_view::npos;
}

bool IsV1TopologyTag(absl::string_view tag) {
  // "<topology>" or "<topology ...>" without a version attribute.
  if (!absl::StartsWith(tag, "<topology")) return false;
  const char next = tag.size() > 9 ? tag[9] : '>';
  if (next != '>' && next != ' ' && next != '\t' && next != '\n' && next != '\r') return false;
  return !absl::StrContains(tag, "version=");
}

std::string SignalName(int signal) {
  const char* name = sigabbrev_np(signal);
  return name != nullptr ? absl::StrCat("SIG", name) : absl::StrCat("signal ", signal);
}

[[noreturn]] void ChildMain(int report_fd, const std::function<absl::Status()>& work) {
  // A crash of a large process must not spend seconds writing a core file.
  const struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  const absl::Status status = work();
  if (!status.ok()) {
    const absl::string_view message = status.message().substr(0, kMaxChildMessage);
    const ssize_t ignored = write(report_fd, message.data(), message.size());
    (void)ignored;
  }
  _exit(status.ok() ? 0 : 1);
}

}  // namespace

absl::StatusOr<XmlShape> ScanXml(absl::string_view xml, absl::string_view source) {
  const size_t first = xml.find_first_not_of(" \t\r\n");
  // hwloc's own parser fails silently on non-XML input.
  if (first == absl::string_view::npos || xml[first] != '<') {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not an XML file (expected an hwloc XML export, e.g. `lstopo --of xml`)"));
  }
  XmlShape shape;
  int depth = 0;
  size_t at = xml.find('<', first);
  while (at != absl::string_view::npos) {
    const absl::string_view rest = xml.substr(at);
    size_t end;
    if (absl::StartsWith(rest, "<!--")) {
      end = After(xml, at + 4, "-->");
    } else if (absl::StartsWith(rest, "<![CDATA[")) {
      end = After(xml, at + 9, "]]>");
    } else if (absl::StartsWith(rest, "<?")) {
      end = After(xml, at + 2, "?>");
    } else {
      end = TagEnd(xml, at);
      if (end == absl::string_view::npos) break;  // truncated: hwloc reports it
      if (rest[1] == '/') {
        // A closing tag with nothing open would let later elements nest past the bound.
        if (--depth < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": an XML closing tag at byte ", at, " closes nothing"));
        }
      } else if (rest[1] != '!' && xml[end - 2] != '/') {
        if (IsV1TopologyTag(xml.substr(at, end - at))) shape.hwloc_v1 = true;
        if (++depth > kMaxXmlDepth) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": XML elements nest deeper than ", kMaxXmlDepth,
                           " levels; no hwloc export does (refused before hwloc parses it)"));
        }
        shape.max_depth = std::max(shape.max_depth, depth);
      }
    }
    if (end == absl::string_view::npos) break;
    at = xml.find('<', end);
  }
  return shape;
}

absl::Status RunContained(const std::function<absl::Status()>& work, absl::string_view source,
                          absl::string_view what, std::chrono::milliseconds limit) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(error)));
  }
  if (pid == 0) {
    close(fds[0]);
    ChildMain(fds[1], work);
  }
  close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string message;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd wait_for = {fds[0], POLLIN, 0};
    const int ready = poll(&wait_for, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    char chunk[512];
    const ssize_t got = read(fds[0], chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // the child exited (or closed its end)
    if (message.size() < kMaxChildMessage) message.append(chunk, static_cast<size_t>(got));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(source, ": ", what, " took longer than ",
                                                    limit.count() / 1000, " s; stopped"));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", what, " crashed (",
                                                   SignalName(WTERMSIG(wait_status)),
                                                   "); the file is damaged or not an hwloc "
                                                   "export"));
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(message.empty() ? absl::StrCat(source, ": ", what, " failed")
                                                    : message);
}

}  // namespace accelpack::probe
