// Bad input gives a clear error naming the file, and no output file is touched.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "probe/probe.h"
#include "probe/text_file.h"
#include "probe/xml_guard.h"
#include "topology_xml.h"

namespace accelpack::probe {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
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
  EXPECT_THAT(ErrorFor(dir), AllOf(HasSubstr(dir), HasSubstr("a directory")));
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

// Each refusal must come quickly: generous bound, far below "forever".
constexpr auto kQuickly = std::chrono::seconds(10);

std::string TimedErrorFor(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  std::string error = ErrorFor(path);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kQuickly) << path;
  return error;
}

TEST(ProbeBadInput, DeepNestingIsRefusedBeforeHwlocParsesIt) {
  // ~20,000 nested bridges overflow hwloc's recursive parser (and lstopo's).
  std::string xml =
      "<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n"
      "<object type=\"Machine\" os_index=\"0\" cpuset=\"0x1\">\n";
  for (int i = 0; i < 20000; ++i) xml += "<object type=\"Bridge\" bridge_type=\"0-1\">";
  const std::string path = testing::WriteTempFile("deep.xml", xml);
  EXPECT_THAT(TimedErrorFor(path),
              AllOf(HasSubstr(path), HasSubstr("nest deeper than 128 levels")));
}

TEST(ProbeBadInput, ClosingTagsFirstDoNotBuyDepth) {
  std::string xml = "<?xml version=\"1.0\"?>\n";
  for (int i = 0; i < 300; ++i) xml += "</x>";
  for (int i = 0; i < 250; ++i) xml += "<object type=\"Bridge\">";
  const absl::StatusOr<XmlShape> shape = ScanXml(xml, "bad.xml");
  ASSERT_FALSE(shape.ok());
  EXPECT_THAT(std::string(shape.status().message()), HasSubstr("closes nothing"));
}

TEST(ProbeBadInput, DepthScanIgnoresQuotedAndCommentedBrackets) {
  const std::string xml = testing::TopologyXmlBuilder().Build();
  absl::StatusOr<XmlShape> shape = ScanXml(xml, "t.xml");
  ASSERT_TRUE(shape.ok());
  EXPECT_FALSE(shape->hwloc_v1);
  EXPECT_GE(shape->max_depth, 4);
  EXPECT_LE(shape->max_depth, 8);
  absl::StatusOr<XmlShape> odd =
      ScanXml("<topology><!-- <a><b><c> --><info value=\"<x><y>\"/></topology>", "o.xml");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->max_depth, 1);
  EXPECT_TRUE(odd->hwloc_v1);
}

TEST(ProbeBadInput, HugeFileIsRefusedUnread) {
  const std::string path = testing::WriteTempFile("huge.xml", "<topology>");
  std::filesystem::resize_file(path, kMaxInputBytes + 1);  // sparse: costs no disk
  EXPECT_THAT(TimedErrorFor(path), AllOf(HasSubstr(path), HasSubstr("larger than 32 MiB")));
}

TEST(ProbeBadInput, DeviceFilesAreRefused) {
  EXPECT_THAT(TimedErrorFor("/dev/zero"),
              AllOf(HasSubstr("/dev/zero"), HasSubstr("not a regular file")));
  EXPECT_THAT(TimedErrorFor("/dev/null"),
              AllOf(HasSubstr("/dev/null"), HasSubstr("not a regular file")));
}

TEST(ProbeBadInput, FifoIsRefusedWithoutWaitingForAWriter) {
  const std::string path = testing::WriteTempFile("placeholder", "") + ".fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  EXPECT_THAT(TimedErrorFor(path), AllOf(HasSubstr(path), HasSubstr("not a regular file")));
  unlink(path.c_str());
}

TEST(ProbeBadInput, TooLargeConfigurationTextIsRefused) {
  const std::string path = testing::WriteTempFile("big.conf", std::string(2048, '#'));
  absl::StatusOr<std::string> text = ReadTextFile(path, 1024);
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(std::string(text.status().message()), HasSubstr(path));
}

// A mutated export that crashes libhwloc 2.9 itself (`lstopo -i` dies the same
// way): a Machine whose complete_cpuset attribute is renamed (SIGSEGV inside
// hwloc). The probe survives and names the file.
TEST(ProbeBadInput, CrashInsideLibhwlocIsContained) {
  std::string xml = testing::TopologyXmlBuilder().Direct(0, testing::H100Pcie(0x18)).Build();
  xml.replace(xml.find("complete_cpuset="), 16, "encoding=");
  const std::string path = testing::WriteTempFile("crash.xml", xml);
  EXPECT_THAT(
      TimedErrorFor(path),
      AllOf(HasSubstr(path), ContainsRegex("hwloc's XML parser crashed \\(SIG(SEGV|ABRT)\\)")));
}

// Every attribute of an export renamed in turn (how the field's mutated exports were
// made): the probe answers each with a result or an error naming the file, never a
// crash of its own.
TEST(ProbeBadInput, EveryRenamedAttributeGivesAnAnswer) {
  const std::string xml = testing::TopologyXmlBuilder()
                              .Cpus(2, 2, 2)
                              .Switch(0, {testing::H100Sxm(0x18), testing::H100Sxm(0x19)})
                              .Direct(1, testing::Ascend910B(0x81))
                              .NvLink(0x18, 0x19, 6)
                              .Build();
  std::set<std::string> attributes;
  for (size_t at = xml.find("=\""); at != std::string::npos; at = xml.find("=\"", at + 1)) {
    const size_t start = xml.rfind(' ', at) + 1;
    attributes.insert(xml.substr(start, at - start));
  }
  ASSERT_GE(attributes.size(), 15u);
  int errors = 0;
  for (const std::string& attribute : attributes) {
    std::string mutated = xml;
    mutated.replace(mutated.find(" " + attribute + "=\""), attribute.size() + 3, " zz=\"");
    absl::StatusOr<NodeInventory> node = ProbeXmlText(mutated, "mutated.xml");
    if (!node.ok()) {
      ++errors;
      EXPECT_THAT(std::string(node.status().message()), HasSubstr("mutated.xml")) << attribute;
    }
  }
  EXPECT_GT(errors, 0);  // some renames break the export (complete_cpuset crashes hwloc)
}

// A crash or a hang inside the contained parse becomes an error naming the file.
TEST(RunContained, CrashBecomesAnErrorNamingTheSource) {
  const absl::Status status = RunContained(
      [] {
        std::raise(SIGSEGV);
        return absl::OkStatus();
      },
      "bad.xml", "hwloc's XML parser", std::chrono::seconds(10));
  EXPECT_THAT(std::string(status.message()),
              AllOf(ContainsRegex("bad.xml: hwloc's XML parser crashed \\(SIG(SEGV|ABRT)\\)")));
}

TEST(RunContained, HangIsStoppedAtTheLimit) {
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = RunContained(
      [] {
        std::this_thread::sleep_for(std::chrono::seconds(60));
        return absl::OkStatus();
      },
      "slow.xml", "hwloc's XML parser", std::chrono::milliseconds(300));
  EXPECT_LT(std::chrono::steady_clock::now() - start, kQuickly);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("slow.xml: hwloc's XML parser took longer than"));
}

TEST(RunContained, PassesTheChildsResultBack) {
  EXPECT_TRUE(RunContained([] { return absl::OkStatus(); }, "a", "work", kQuickly).ok());
  const absl::Status failed =
      RunContained([] { return absl::InvalidArgumentError("a: no good"); }, "a", "work", kQuickly);
  EXPECT_EQ(failed.message(), "a: no good");
}

TEST(WriteFilesAtomically, NothingIsReplacedWhenOneTargetFails) {
  const std::string first = testing::WriteTempFile("set-a.conf", "old a\n");
  const std::string missing = testing::WriteTempFile("x", "") + ".d/b.conf";
  const absl::Status status = WriteFilesAtomically({{first, "new a\n"}, {missing, "b\n"}});
  EXPECT_THAT(std::string(status.message()), HasSubstr(missing));
  EXPECT_EQ(*ReadTextFile(first), "old a\n");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(first).parent_path())) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp.")));
  }
}

TEST(WriteFilesAtomically, TwoOutputsToOneFileAreRefused) {
  const std::string path = testing::WriteTempFile("same.conf", "old\n");
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const absl::Status status =
      WriteFilesAtomically({{path, "gres\n"}, {dir + "/./same.conf", "slurm\n"}});
  EXPECT_THAT(std::string(status.message()), HasSubstr("two outputs to one file"));
  EXPECT_EQ(*ReadTextFile(path), "old\n");
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
