#include "probe/text_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accelpack::probe {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Closes a descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error a deferred write may only show at close.
  int Close() {
    const int result = close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view contents, const std::string& path) {
  while (!contents.empty()) {
    const ssize_t written = write(fd, contents.data(), contents.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    contents.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

// A complete temporary copy of one output, waiting to be renamed over its target.
struct StagedFile {
  std::string target;
  std::string temp;
};

absl::StatusOr<StagedFile> Stage(const std::string& path, absl::string_view contents) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  FileDescriptor fd(mkstemp(temp.data()));
  if (fd.get() < 0) return ErrnoError("cannot create a temporary file for", path);
  absl::Status status = WriteAll(fd.get(), contents, path);
  // mkstemp creates 0600; configuration files are meant to be readable by Slurm.
  if (status.ok() && fchmod(fd.get(), 0644) != 0) status = ErrnoError("cannot chmod", temp);
  if (status.ok() && fsync(fd.get()) != 0) status = ErrnoError("cannot flush", path);
  if (status.ok() && fd.Close() != 0) status = ErrnoError("cannot write", path);
  if (!status.ok()) {
    unlink(temp.c_str());
    return status;
  }
  return StagedFile{path, std::move(temp)};
}

}  // namespace

std::optional<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* directory = opendir(path.c_str());
  if (directory == nullptr) return std::nullopt;
  std::vector<std::string> names;
  while (const dirent* entry = readdir(directory)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(directory);
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  return WriteFilesAtomically({{path, std::string(contents)}});
}

absl::Status WriteFilesAtomically(
    const std::vector<std::pair<std::string, std::string>>& path_and_contents) {
  for (size_t i = 0; i < path_and_contents.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      std::error_code ignored;
      const auto a = std::filesystem::weakly_canonical(path_and_contents[i].first, ignored);
      const auto b = std::filesystem::weakly_canonical(path_and_contents[j].first, ignored);
      if (a == b) {
        return absl::InvalidArgumentError(absl::StrCat("cannot write ", path_and_contents[i].first,
                                                       ": it is also ", path_and_contents[j].first,
                                                       " (two outputs to one file)"));
      }
    }
  }
  std::vector<StagedFile> staged;
  absl::Status status;
  for (const auto& [path, contents] : path_and_contents) {
    absl::StatusOr<StagedFile> file = Stage(path, contents);
    if (!file.ok()) {
      status = file.status();
      break;
    }
    staged.push_back(*std::move(file));
  }
  for (const StagedFile& file : staged) {
    if (status.ok() && rename(file.temp.c_str(), file.target.c_str()) != 0) {
      status = ErrnoError("cannot replace", file.target);
    }
    if (!status.ok()) unlink(file.temp.c_str());
  }
  return status;
}

}  // namespace accelpack::probe
