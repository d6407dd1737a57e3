// SPDX-License-Identifier: GPL-2.0-or-later
#include "common/bounded_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "common/strings.h"

namespace accelpack {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class BoundedFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/accelpack-bounded-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The error for `path`, from a thread, so that a read that waits fails the test
  // instead of hanging it.
  static std::string ErrorOf(const std::string& path, size_t max_bytes, std::string_view what) {
    auto read =
        std::async(std::launch::async, [&] { return ReadBoundedFile(path, max_bytes, what); });
    if (read.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "reading " << path << " waited";
      std::_Exit(1);  // the reader is stuck in a system call; nothing else can end it
    }
    auto result = read.get();
    return result.ok() ? "read" : std::string(MessageOf(result.status()));
  }
  std::filesystem::path dir_;
};

TEST_F(BoundedFile, ReadsARegularFileWhole) {
  std::string text = "Key=Value\n";
  text += std::string(200000, 'x');  // more than one read's chunk
  text += '\0';
  text += "after a NUL\n";
  auto read = ReadBoundedFile(Write("a.conf", text), kMiB);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, text);
  auto empty = ReadBoundedFile(Write("empty", ""), 1);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(BoundedFile, AFileOfExactlyTheBoundIsReadOneByteMoreIsNot) {
  const std::string at = Write("at", std::string(1000, 'a'));
  const std::string over = Write("over", std::string(1001, 'a'));
  EXPECT_TRUE(ReadBoundedFile(at, 1000).ok());
  EXPECT_EQ(ErrorOf(over, 1000, "policy file"),
            Cat("cannot read policy file ", over, ": larger than 1000 bytes"));
  // Sparse: a file far over the bound costs no disk and is refused unread.
  const std::string huge = Write("huge", "");
  std::filesystem::resize_file(huge, 64 * kMiB + 1);
  EXPECT_EQ(ErrorOf(huge, 64 * kMiB, ""), Cat("cannot read ", huge, ": larger than 64 MiB"));
}

TEST_F(BoundedFile, NothingThereIsNotFoundAndNamesThePath) {
  const std::string missing = (dir_ / "missing.yaml").string();
  auto read = ReadBoundedFile(missing, kMiB, "policy file");
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(absl::IsNotFound(read.status()));
  EXPECT_EQ(MessageOf(read.status()),
            Cat("cannot read policy file ", missing, ": No such file or directory"));
  // A path through a file is not "nothing there": it is a mistake to report.
  auto through = ReadBoundedFile(Write("file", "x") + "/inside", kMiB);
  ASSERT_FALSE(through.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(through.status())) << through.status();
}

// Each is something a path can name by mistake; each would hang or never end a
// plain read (a FIFO without a writer, /dev/zero) or read nothing useful.
TEST_F(BoundedFile, WhatIsNotARegularFileIsRefusedWithoutWaiting) {
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string socket_path = (dir_ / "sock").string();
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  socket_path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  for (const std::string& path :
       {fifo, dir_.string(), std::string("/dev/zero"), std::string("/dev/null")}) {
    EXPECT_THAT(ErrorOf(path, kMiB, "TLS file"),
                AllOf(HasSubstr(Cat("cannot read TLS file ", path, ": ")),
                      HasSubstr("not a regular file")));
  }
  // A socket cannot be opened at all; the error still names it.
  EXPECT_THAT(ErrorOf(socket_path, kMiB, ""), HasSubstr(socket_path));
  ::close(sock);
}

TEST_F(BoundedFile, ALinkIsFollowedToWhatItNames) {
  const std::string target = Write("target", "through a link\n");
  const std::string link = (dir_ / "link").string();
  std::filesystem::create_symlink(target, link);
  auto read = ReadBoundedFile(link, kMiB);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "through a link\n");
  const std::string to_fifo = (dir_ / "to-fifo").string();
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_symlink(fifo, to_fifo);
  EXPECT_THAT(ErrorOf(to_fifo, kMiB, ""), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace accelpack
