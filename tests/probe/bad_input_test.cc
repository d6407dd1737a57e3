// Bad input gives a clear error naming the file, and no output file is touched.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "probe/probe.h"
#include "probe/text_file.h"
#include "topology_xml.h"

namespace accelpack::probe {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string ErrorFor(const std::string& path) {
  absl::StatusOr<NodeInventory> node = ProbeXmlFile(path);
  EXPECT_FALSE(node.ok());
  return node.ok() ? "" : std::string(node.status().message());
}

TEST(ProbeBadInput, MissingFile) {
  const std::string path = testing::WriteTempFile("placeholder", "") + ".missing.xml";
  EXPECT_THAT(ErrorFor(path), AllOf(HasSubstr(path), HasSubstr("No such file or directory")));
}

TEST(ProbeBadInput, Directory) {
  const std::string dir = std::filesystem::path(testing::WriteTempFile("x", "")).parent_path();
  EXPECT_THAT(ErrorFor(dir), AllOf(HasSubstr(dir), HasSubstr("Is a directory")));
}

TEST(ProbeBadInput, NotXml) {
  const std::string path = testing::WriteTempFile("text.xml", "Machine (16GB)\n  Package L#0\n");
  EXPECT_THAT(ErrorFor(path), AllOf(HasSubstr(path), HasSubstr("not an XML file")));
}

TEST(ProbeBadInput, EmptyFile) {
  const std::string path = testing::WriteTempFile("empty.xml", "");
  EXPECT_THAT(ErrorFor(path), AllOf(HasSubstr(path), HasSubstr("not an XML file")));
}

TEST(ProbeBadInput, XmlThatHwlocRejects) {
  const std::string truncated = testing::TopologyXmlBuilder().Build().substr(0, 300);
  for (const std::string& text :
       {truncated, std::string("<?xml version=\"1.0\"?>\n<html><body/></html>\n"),
        std::string("<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n"
                    "  <object type=\"Spaceship\" os_index=\"0\"/>\n</topology>\n")}) {
    const std::string path = testing::WriteTempFile("rejected.xml", text);
    EXPECT_THAT(ErrorFor(path), AllOf(HasSubstr(path), HasSubstr("hwloc rejected the XML")));
  }
}

TEST(ProbeBadInput, TopologyWithoutPci) {
  // What `lstopo --no-io --of xml` gives: CPUs and memory, no PCI objects.
  const std::string path =
      testing::WriteTempFile("nopci.xml", testing::TopologyXmlBuilder().Cpus(2, 4, 2).Build());
  EXPECT_THAT(ErrorFor(path), AllOf(HasSubstr(path), HasSubstr("no PCI devices")));
}

TEST(WriteFileAtomically, ReplacesWholeFileAndLeavesNoTemporary) {
  const std::string path = testing::WriteTempFile("atomic.conf", "old contents\n");
  ASSERT_TRUE(WriteFileAtomically(path, "new\n").ok());
  EXPECT_EQ(*ReadTextFile(path), "new\n");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp.")));
  }
}

TEST(WriteFileAtomically, FailsCleanlyInAMissingDirectory) {
  const std::string path = testing::WriteTempFile("x", "") + ".d/sub/gres.conf";
  const absl::Status status = WriteFileAtomically(path, "text");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace accelpack::probe
