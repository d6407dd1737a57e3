// MIG layouts: parsed, validated against the GPUs hwloc finds, written as Slurm's
// hand-configured MIG lines, and read back by --check (with shards beside them).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "probe/probe.h"
#include "probe/text_file.h"
#include "topology_xml.h"

namespace accelpack::probe {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Lines = std::vector<std::string>;

// gpu01: 2 sockets x 4 cores, 8x H100 SXM (nvidia0-3 on socket 0, 4-7 on socket 1).
NodeInventory H100Node() {
  absl::StatusOr<NodeInventory> node =
      ProbeXmlText(testing::DirectHgx("gpu01", 1, testing::H100Sxm).Build(), "gpu01.xml");
  EXPECT_TRUE(node.ok()) << node.status();
  return *node;
}

// h200n: 4x H200 SXM and an H100 NVL (94 GB: no MIG table in the catalog).
NodeInventory MixedNode() {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("h200n").Cpus(1, 4, 1);
  for (int bus : {0x18, 0x2a, 0x3a, 0x5d}) builder.Direct(0, H200Sxm(bus));
  builder.Direct(0, H100Nvl(0x9a));
  absl::StatusOr<NodeInventory> node = ProbeXmlText(builder.Build(), "h200n.xml");
  EXPECT_TRUE(node.ok()) << node.status();
  return *node;
}

MigLayout Layout(const std::string& spec) {
  absl::StatusOr<MigLayout> layout = ParseMigLayout(spec, "layout");
  EXPECT_TRUE(layout.ok()) << layout.status();
  return layout.ok() ? *layout : MigLayout{};
}

std::string ParseError(const std::string& spec) {
  absl::StatusOr<MigLayout> layout = ParseMigLayout(spec, "layout.txt");
  return layout.ok() ? "<parsed>" : std::string(layout.status().message());
}

// /proc/driver/nvidia-caps/mig-minors as driver 580.159.04 wrote it on an H200 node
// (gpu0..gpu31, gi0..gi14, ci0..ci7; docs/probe.md "On a real Hopper node").
MigMinors DriverMinors() {
  const std::string path = ACCELPACK_PROBE_FIXTURES "/mig-minors-driver580.txt";
  absl::StatusOr<std::string> text = ReadTextFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  absl::StatusOr<MigMinors> minors = ParseMigMinors(text.ok() ? *text : "", path);
  EXPECT_TRUE(minors.ok()) << minors.status();
  return minors.ok() ? *minors : MigMinors{};
}

TEST(MigLayout, ParsesRangesCountsAndInstances) {
  const MigLayout layout = Layout("0=3g.40gb@1,3g.40gb@2 # two halves\n2-3,5=1G.10GB*7;");
  ASSERT_EQ(layout.size(), 4u);
  ASSERT_EQ(layout.at(0).size(), 2u);
  EXPECT_EQ(layout.at(0)[1].profile, "3g.40gb");
  EXPECT_EQ(layout.at(0)[1].gpu_instance, 2);
  EXPECT_EQ(layout.at(5).size(), 7u);
  EXPECT_EQ(layout.at(5)[0].profile, "1g.10gb");
  EXPECT_FALSE(layout.at(5)[0].gpu_instance.has_value());
}

TEST(MigLayout, SyntaxErrorsNameTheEntry) {
  EXPECT_THAT(ParseError("0:3g.40gb"),
              AllOf(HasSubstr("layout.txt"), HasSubstr("\"0:3g.40gb\""), HasSubstr("GPUS=SLICES")));
  EXPECT_THAT(ParseError("x=3g.40gb"), HasSubstr("bad GPU index list \"x\""));
  EXPECT_THAT(ParseError("0=1g.10gb*0"), HasSubstr("count \"0\""));
  EXPECT_THAT(ParseError("0=1g.10gb*999"), HasSubstr("count \"999\""));
  EXPECT_THAT(ParseError("0=3g.40gb@15"), HasSubstr("GPU instance id \"15\""));
  EXPECT_THAT(ParseError("0=1g.10gb*2@3"), HasSubstr("one slice, not *N"));
  EXPECT_THAT(ParseError("0=3g.40gb,,3g.40gb"), HasSubstr("empty MIG profile"));
  EXPECT_THAT(ParseError("0-1=7g.80gb 1=7g.80gb"), HasSubstr("GPU 1 is already laid out"));
  EXPECT_THAT(ParseError("# nothing\n"), HasSubstr("empty MIG layout"));
  EXPECT_THAT(ParseError("0-1048576=1g.10gb*64"), HasSubstr("names more than 64 indexes"));
  EXPECT_THAT(ParseError("64=1g.10gb"), HasSubstr("GPU 64: a node holds at most 64 accelerators"));
  // 300 ranges of 2^20 each: refused before any is expanded (they once took 2 GB).
  std::string many = "0-1048576";
  for (int i = 0; i < 299; ++i) many += ",0-1048576";
  EXPECT_THAT(ParseError(many + "=1g.10gb"), HasSubstr("names more than 64 indexes"));
}

TEST(MigLayout, FitsTheCatalogProfiles) {
  const NodeInventory node = H100Node();
  EXPECT_THAT(MigLayoutProblems(node, Layout("0=4g.40gb,2g.20gb,1g.10gb 1=3g.40gb*2 "
                                             "2=1g.10gb*7 3=1g.20gb*4 4=7g.80gb")),
              IsEmpty());
  EXPECT_THAT(MigLayoutProblems(MixedNode(), Layout("0=3g.71gb*2 1=1g.18gb*7 2=7g.141gb")),
              IsEmpty());
}

TEST(MigLayout, BadLayoutsNameGpuAndProblem) {
  const NodeInventory node = H100Node();
  EXPECT_THAT(
      MigLayoutProblems(node, Layout("0=3g.71gb 1=4g.40gb*2 2=1g.20gb*5 3=3g.40gb,4g.40gb,1g.10gb "
                                     "4=3g.40gb@2,3g.40gb@2 9=1g.10gb")),
      ElementsAre("GPU 0 (/dev/nvidia0, NVIDIA H100 SXM5): no MIG profile 3g.71gb for this model "
                  "(its profiles: 1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb)",
                  "GPU 1 (/dev/nvidia1, NVIDIA H100 SXM5): 2 x 4g.40gb, at most 1 fit one GPU",
                  "GPU 1 (/dev/nvidia1, NVIDIA H100 SXM5): the slices take 8 compute slices, a "
                  "GPU has 7",
                  "GPU 2 (/dev/nvidia2, NVIDIA H100 SXM5): 5 x 1g.20gb, at most 4 fit one GPU",
                  "GPU 2 (/dev/nvidia2, NVIDIA H100 SXM5): the slices take 10 memory slices, a "
                  "GPU has 8",
                  "GPU 3 (/dev/nvidia3, NVIDIA H100 SXM5): the slices take 8 compute slices, a "
                  "GPU has 7",
                  "GPU 3 (/dev/nvidia3, NVIDIA H100 SXM5): the slices take 9 memory slices, a "
                  "GPU has 8",
                  "GPU 4 (/dev/nvidia4, NVIDIA H100 SXM5): GPU instance 2 given to two slices",
                  "GPU 9: gpu01 has no /dev/nvidia9 (its GPUs: 0-7)"));
  EXPECT_THAT(MigLayoutProblems(MixedNode(), Layout("0=3g.40gb 4=1g.10gb")),
              ElementsAre(HasSubstr("GPU 0 (/dev/nvidia0, NVIDIA H200 SXM): no MIG profile "
                                    "3g.40gb for this model (its profiles: 1g.18gb,"),
                          "GPU 4 (/dev/nvidia4, NVIDIA H100 NVL): accelpack's catalog has no MIG "
                          "profiles for it (it has them for H100 80GB and H200 141GB)"));
  const absl::Status status = ValidateMigLayout(node, Layout("8=1g.10gb"), "layout.txt");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("layout.txt: MIG layout does not fit gpu01: GPU 8: gpu01 has no"));
}

TEST(MigLayout, MinorsFileIsStrict) {
  EXPECT_EQ(DriverMinors().at("gpu0/gi1/access"), 12);
  EXPECT_EQ(DriverMinors().at("gpu1/gi2/ci0/access"), 157);
  const absl::StatusOr<MigMinors> bad = ParseMigMinors("config 1\ngpu0/gi0/access\n", "minors");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("minors line 2"));
}

TEST(MigLines, WrittenWithCapFilesWhenInstancesAndMinorsAreKnown) {
  const NodeInventory node = H100Node();
  SharingPlan sharing;
  sharing.mig_layout = Layout("0=3g.40gb@1,3g.40gb@2 5=1g.10gb*2");
  sharing.mig_minors = DriverMinors();
  sharing.shards_per_gpu = 4;
  const std::string gres = RenderGresConf(node, sharing);
  // gpu0/gi1: 3 + 9 = 12, its ci0 13; gpu0/gi2: 21, 22.
  EXPECT_THAT(gres, HasSubstr("\nNodeName=gpu01 Name=gpu Type=3g.40gb MultipleFiles=/dev/nvidia0,"
                              "/dev/nvidia-caps/nvidia-cap12,/dev/nvidia-caps/nvidia-cap13 "
                              "Cores=0-3\n"));
  EXPECT_THAT(gres, HasSubstr("MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap21,"
                              "/dev/nvidia-caps/nvidia-cap22 Cores=0-3\n"));
  // Without instance ids the slices' lines are left for the admin to complete.
  EXPECT_THAT(gres, HasSubstr("# fill in:"));
  EXPECT_THAT(gres, HasSubstr("\n#NodeName=gpu01 Name=gpu Type=1g.10gb MultipleFiles=/dev/nvidia5,"
                              "/dev/nvidia-caps/nvidia-cap<gpu5/giG/access>,"
                              "/dev/nvidia-caps/nvidia-cap<gpu5/giG/ci0/access> Cores=4-7\n"));
  // Partitioned GPUs are neither whole GPUs nor shared as shards.
  EXPECT_THAT(gres, Not(HasSubstr("File=/dev/nvidia0 ")));
  EXPECT_THAT(gres, Not(HasSubstr("File=/dev/nvidia5\n")));
  EXPECT_THAT(gres,
              HasSubstr("NodeName=gpu01 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia1"));
  EXPECT_THAT(gres, HasSubstr("Name=shard Count=4 File=/dev/nvidia7\n"));
  EXPECT_THAT(RenderNodeNameLine(node, sharing),
              HasSubstr(" Gres=gpu:h100:6,gpu:3g.40gb:2,gpu:1g.10gb:2,shard:24\n"));
}

// On the live machine a layout naming instances that do not exist (MIG mode off, as
// on the H200 node this was tried on) gets a note per GPU; slurmd would drain the node.
TEST(MigLines, NotesInstancesThatDoNotExistOnTheLiveMachine) {
  const NodeInventory node = H100Node();
  SharingPlan sharing;
  sharing.mig_layout = Layout("0=3g.40gb@1,3g.40gb@2 5=1g.10gb*2");
  sharing.mig_minors = DriverMinors();
  sharing.live_instances = GpuInstances{{0, {1}}, {5, {}}};
  const std::string gres = RenderGresConf(node, sharing);
  EXPECT_THAT(gres, HasSubstr("# note: GPU 0 (/dev/nvidia0) has no MIG GPU instance 2 now (MIG "
                              "mode off, or not created yet; `nvidia-smi mig -lgi` lists them): "
                              "the lines name slices the GPU does not have\n"));
  EXPECT_THAT(gres, HasSubstr("# note: GPU 5 (/dev/nvidia5) has 0 MIG GPU instances now for the "
                              "layout's 2 slices"));
  // The lines are still written: the instances may be created after the probe ran.
  EXPECT_THAT(gres, HasSubstr("/dev/nvidia-caps/nvidia-cap21,/dev/nvidia-caps/nvidia-cap22"));

  sharing.live_instances = GpuInstances{{0, {1, 2}}, {5, {3, 4}}};
  EXPECT_THAT(RenderGresConf(node, sharing), Not(HasSubstr("# note: GPU")));
  // Slices without an instance id are counted against the instances there are.
  sharing.live_instances = GpuInstances{{0, {1, 2}}, {5, {3}}};
  EXPECT_THAT(MissingGpuInstances(*sharing.mig_layout, *sharing.live_instances),
              ElementsAre(HasSubstr("GPU 5 (/dev/nvidia5) has 1 MIG GPU instance now for the "
                                    "layout's 2 slices")));
  // A GPU the driver has no capability directory for has none of them.
  EXPECT_THAT(MissingGpuInstances(Layout("2=7g.80gb@0"), GpuInstances{}),
              ElementsAre(HasSubstr("GPU 2 (/dev/nvidia2) has no MIG GPU instance 0 now")));
  // An export (no live view) gets no such note.
  sharing.live_instances.reset();
  EXPECT_THAT(RenderGresConf(node, sharing), Not(HasSubstr("# note: GPU")));
}

TEST(MigLines, AutoDetectOffWhenEveryGpuIsPartitioned) {
  const NodeInventory node = H100Node();
  SharingPlan sharing;
  sharing.mig_layout = Layout("0-7=7g.80gb@0");
  sharing.mig_minors = DriverMinors();
  const std::string gres = RenderGresConf(node, sharing);
  EXPECT_THAT(gres, HasSubstr("NodeName=gpu01 AutoDetect=off Name=gpu Type=7g.80gb "
                              "MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap3,"));
  EXPECT_THAT(gres, Not(HasSubstr("Type=h100")));
  EXPECT_THAT(RenderNodeNameLine(node, sharing), HasSubstr(" Gres=gpu:7g.80gb:8\n"));
}

Lines Check(const std::string& gres_conf, const std::string& slurm_conf,
            const SharingPlan& sharing = {}) {
  absl::StatusOr<Lines> mismatches =
      CheckNode(H100Node(), gres_conf, slurm_conf, std::nullopt, sharing);
  EXPECT_TRUE(mismatches.ok()) << mismatches.status();
  return mismatches.ok() ? *mismatches : Lines{"<error>"};
}

TEST(MigCheck, ProbesOwnMigAndShardLinesMatch) {
  const NodeInventory node = H100Node();
  SharingPlan sharing;
  sharing.mig_layout = Layout("0=3g.40gb@1,3g.40gb@2 1=1g.10gb@7,2g.20gb@3,4g.40gb@1");
  sharing.mig_minors = DriverMinors();
  sharing.shards_per_gpu = 2;
  const std::string gres = RenderGresConf(node, sharing);
  const std::string slurm = RenderNodeNameLine(node, sharing);
  EXPECT_THAT(Check(gres, slurm, sharing), IsEmpty());
  // Without the layout, the MIG lines themselves say which GPUs are cut.
  EXPECT_THAT(Check(gres, slurm), IsEmpty());
}

TEST(MigCheck, HandWrittenLinesAgainstLayout) {
  // Autodetect-style type names count as their profile.
  const std::string gres =
      "NodeName=gpu01 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia[1-7]\n"
      "NodeName=gpu01 Name=gpu Type=nvidia_h100_80gb_hbm3_3g.40gb "
      "MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap[12-13]\n"
      "NodeName=gpu01 Name=gpu Type=3g.40gb "
      "MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap21,/dev/nvidia-caps/nvidia-cap22\n";
  const std::string slurm = "NodeName=gpu01 Gres=gpu:h100:7,gpu:3g.40gb:2\n";
  SharingPlan sharing;
  sharing.mig_layout = Layout("0=3g.40gb*2");
  EXPECT_THAT(Check(gres, slurm, sharing), IsEmpty());
  sharing.mig_layout = Layout("0=3g.40gb,1g.10gb*3");
  EXPECT_THAT(Check(gres, slurm, sharing),
              ElementsAre("gres.conf: /dev/nvidia0 MIG 1g.10gb count 0, layout has 3",
                          "gres.conf: /dev/nvidia0 MIG 3g.40gb count 2, layout has 1",
                          "slurm.conf: Gres gpu:1g.10gb count 0, layout has 3",
                          "slurm.conf: Gres gpu:3g.40gb count 2, layout has 1"));
}

TEST(MigCheck, ReportsBadMigLines) {
  const std::string gres =
      "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia[0-7]\n"
      "NodeName=gpu01 Name=gpu Type=3g.40gb "
      "MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap12\n"
      "NodeName=gpu01 Name=gpu Type=3g.71gb "
      "MultipleFiles=/dev/nvidia1,/dev/nvidia-caps/nvidia-cap12,/dev/nvidia-caps/nvidia-cap140\n"
      "NodeName=gpu01 Name=gpu Type=1g.10gb "
      "MultipleFiles=/dev/nvidia9,/dev/nvidia-caps/nvidia-cap9\n"
      "NodeName=gpu01 Name=gpu Type=4g.40gb MultipleFiles=/dev/nvidia2,/dev/nvidia2,/dev/nvidia3\n"
      "NodeName=gpu01 Name=gpu Type=4g.40gb Count=2 "
      "MultipleFiles=/dev/nvidia3,/dev/nvidia-caps/nvidia-cap[300-301]\n";
  EXPECT_THAT(
      Check(gres, "NodeName=gpu01 Gres=gpu:h100:8\n"),
      ElementsAre(
          "gres.conf line 2: gpu:3g.40gb lists 1 nvidia-caps files; a slice has 2 (its GPU "
          "instance's and compute instance's)",
          "gres.conf line 3: gpu:3g.71gb /dev/nvidia-caps/nvidia-cap12 is also on line 2",
          "gres.conf line 4: gpu:1g.10gb MultipleFiles= starts with /dev/nvidia9, hardware has no "
          "such GPU (a MIG slice lists its GPU first)",
          "gres.conf line 5: gpu:4g.40gb /dev/nvidia2 is not a /dev/nvidia-caps/nvidia-capN file",
          "gres.conf line 5: gpu:4g.40gb /dev/nvidia3 is not a /dev/nvidia-caps/nvidia-capN file",
          "gres.conf line 5: gpu:4g.40gb lists 0 nvidia-caps files; a slice has 2 (its GPU "
          "instance's and compute instance's)",
          HasSubstr("gres.conf: GPU 1 (/dev/nvidia1, NVIDIA H100 SXM5): no MIG profile 3g.71gb"),
          "gres.conf: GPU 3 (/dev/nvidia3, NVIDIA H100 SXM5): 2 x 4g.40gb, at most 1 fit one GPU",
          "gres.conf: GPU 3 (/dev/nvidia3, NVIDIA H100 SXM5): the slices take 8 compute slices, "
          "a GPU has 7",
          "gres.conf: /dev/nvidia0 is listed whole (gpu:h100) but cut into MIG slices",
          "gres.conf: /dev/nvidia1 is listed whole (gpu:h100) but cut into MIG slices",
          "gres.conf: /dev/nvidia2 is listed whole (gpu:h100) but cut into MIG slices",
          "gres.conf: /dev/nvidia3 is listed whole (gpu:h100) but cut into MIG slices",
          "gres.conf: gpu:h100 count 8, hardware has 4",
          "slurm.conf: Gres gpu:3g.40gb count 0, gres.conf has 1",
          "slurm.conf: Gres gpu:3g.71gb count 0, gres.conf has 1",
          "slurm.conf: Gres gpu:4g.40gb count 0, gres.conf has 3",
          "slurm.conf: Gres gpu:h100 count 8, hardware has 4"));
}

TEST(MigCheck, HugeCountIsAMismatchNotAnAllocation) {
  EXPECT_THAT(Check("NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia[1-7]\n"
                    "NodeName=gpu01 Name=gpu Type=1g.10gb Count=1G "
                    "MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap[3-4]\n",
                    "NodeName=gpu01 Gres=gpu:h100:7,gpu:1g.10gb:1\n"),
              ElementsAre("gres.conf line 2: gpu:1g.10gb Count=1073741824, a GPU holds at most "
                          "7 slices",
                          "gres.conf: GPU 0 (/dev/nvidia0, NVIDIA H100 SXM5): 8 x 1g.10gb, at most "
                          "7 fit one GPU",
                          "gres.conf: GPU 0 (/dev/nvidia0, NVIDIA H100 SXM5): the slices take 8 "
                          "compute slices, a GPU has 7",
                          "slurm.conf: Gres gpu:1g.10gb count 1, gres.conf has 8"));
}

TEST(MigCheck, WholeAndSlicedGpuIsReported) {
  SharingPlan sharing;
  sharing.mig_layout = Layout("0=7g.80gb");
  EXPECT_THAT(
      Check("NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia[0-7]\n"
            "Name=shard Count=8 File=/dev/nvidia[0-1]\n",
            "NodeName=gpu01 Gres=gpu:h100:7,gpu:7g.80gb:1,shard:8\n", sharing),
      ElementsAre("gres.conf: /dev/nvidia0 is listed whole (gpu:h100) but cut into MIG slices",
                  "gres.conf: /dev/nvidia0 MIG 7g.80gb count 0, layout has 1",
                  "gres.conf: gpu:h100 count 8, hardware has 7",
                  "gres.conf line 2: shard File=/dev/nvidia0, a GPU cut into MIG slices"));
}

TEST(ShardCheck, CountsPerGpuAgainstShardsPerGpu) {
  const NodeInventory node = H100Node();
  const std::string gres = RenderGresConf(node) +
                           "Name=shard Count=8 File=/dev/nvidia[0-1]\n"
                           "Name=shard Count=4 File=/dev/nvidia2\n"
                           "Name=shard Count=7 File=/dev/nvidia[3-4]\n";
  SharingPlan sharing;
  sharing.shards_per_gpu = 4;
  EXPECT_THAT(Check(gres, "NodeName=gpu01 Gres=gpu:h100:8,shard:19\n", sharing),
              ElementsAre("gres.conf: /dev/nvidia4 shard count 3, --shards-per-gpu 4",
                          "gres.conf: /dev/nvidia5 shard count 0, --shards-per-gpu 4",
                          "gres.conf: /dev/nvidia6 shard count 0, --shards-per-gpu 4",
                          "gres.conf: /dev/nvidia7 shard count 0, --shards-per-gpu 4",
                          "slurm.conf: Gres shard count 19, --shards-per-gpu on the whole GPUs "
                          "makes 32"));
  // Shards without File= spread over every GPU.
  EXPECT_THAT(Check(RenderGresConf(node) + "Name=shard Count=32\n",
                    "NodeName=gpu01 Gres=gpu:h100:8,shard:32\n", sharing),
              IsEmpty());
}

}  // namespace
}  // namespace accelpack::probe
