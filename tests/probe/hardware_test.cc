// SPDX-License-Identifier: GPL-2.0-or-later
// The probe on hardware seen in the field: Huawei hosts with iBMC/Kunpeng PCI
// functions, NVLink wiring from NVML exports, 4-GPU HGX boards, hwloc 1.x exports,
// CPU-only exports, and exports claiming impossible numbers of devices.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "probe/pci_catalog.h"
#include "probe/probe.h"
#include "probe/report_json.h"
#include "topology_xml.h"

namespace accelpack::probe {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TopologyXmlBuilder;

NodeInventory Probe(const TopologyXmlBuilder& builder, const ProbeOptions& options = {}) {
  absl::StatusOr<NodeInventory> node = ProbeXmlText(builder.Build(), "test.xml", options);
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? *node : NodeInventory{};
}

std::vector<std::string> Files(const NodeInventory& node) {
  std::vector<std::string> files;
  for (const Device& device : node.devices) {
    if (device.numbered()) files.push_back(device.DeviceFile());
  }
  return files;
}

// --- Huawei: an Atlas 800T A2 on a real Kunpeng host --------------------------

// The iBMC's VGA sits on a low bus (class 0300) and the Kunpeng ZIP engine is a
// class 1200 function, both vendor 19e5: neither is an NPU.
TopologyXmlBuilder KunpengAtlasHost() {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("npu-k01").Cpus(2, 2, 1).MemoryPerSocketMib(512);
  builder.Direct(0, IbmcVga(0x03));
  builder.Direct(0, KunpengZip(0x75));
  builder.Direct(0, HuaweiNic(0x7d));
  for (int bus : {0x01, 0x02, 0x41, 0x42}) builder.Direct(0, Ascend910B(bus));
  builder.Direct(1, KunpengZip(0xb5));
  for (int bus : {0x81, 0x82, 0xc1, 0xc2}) builder.Direct(1, Ascend910B(bus));
  return builder;
}

TEST(PciCatalog, HuaweiHostFunctionsAreNotAccelerators) {
  EXPECT_EQ(ClassifyPciDevice(0x19e5, 0x1711, 0x0300).role, PciRole::kHostFunction);
  EXPECT_EQ(ClassifyPciDevice(0x19e5, 0xa250, 0x1200).role, PciRole::kHostFunction);
  EXPECT_EQ(ClassifyPciDevice(0x19e5, 0xa250, 0x1200).host_function, "Kunpeng ZIP engine");
  EXPECT_EQ(ClassifyPciDevice(0x19e5, 0xd802, 0x1200).role, PciRole::kKnownAccelerator);
  EXPECT_EQ(ClassifyPciDevice(0x19e5, 0xd999, 0x1200).role, PciRole::kUnknownAccelerator);
  EXPECT_EQ(ClassifyPciDevice(0x10de, 0x22a3, 0x0680).role, PciRole::kNotAccelerator);
  EXPECT_TRUE(IsNvSwitch(0x10de, 0x22a3));
  EXPECT_FALSE(IsNvSwitch(0x10de, 0x2330));
}

TEST(ProbeHuaweiHost, HostFunctionsTakeNoDavinciNumber) {
  const NodeInventory node = Probe(KunpengAtlasHost());
  EXPECT_THAT(Files(node),
              ElementsAre("/dev/davinci0", "/dev/davinci1", "/dev/davinci2", "/dev/davinci3",
                          "/dev/davinci4", "/dev/davinci5", "/dev/davinci6", "/dev/davinci7"));
  EXPECT_EQ(node.devices.size(), 8u);
  EXPECT_EQ(node.devices[0].pci_bus_id, "0000:01:00.0");
  EXPECT_EQ(node.devices[7].pci_bus_id, "0000:c2:00.0");
  EXPECT_THAT(node.notes, IsEmpty());
  EXPECT_EQ(RenderNodeNameLine(node),
            "NodeName=npu-k01 Sockets=2 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=1024 "
            "Gres=npu:910b:8\n");
}

TEST(ProbeHuaweiHost, CheckPassesOnTheCorrectGresConf) {
  const NodeInventory node = Probe(KunpengAtlasHost());
  const std::vector<std::string> davinci = {"/dev/davinci0", "/dev/davinci1", "/dev/davinci2",
                                            "/dev/davinci3", "/dev/davinci4", "/dev/davinci5",
                                            "/dev/davinci6", "/dev/davinci7"};
  const std::string gres_conf =
      "NodeName=npu-k01 Name=npu Type=910b File=/dev/davinci[0-3] Cores=0-1\n"
      "NodeName=npu-k01 Name=npu Type=910b File=/dev/davinci[4-7] Cores=2-3\n";
  const std::string slurm_conf = "NodeName=npu-k01 Sockets=2 CoresPerSocket=2 Gres=npu:910b:8\n";
  absl::StatusOr<std::vector<std::string>> mismatches =
      CheckNode(node, gres_conf, slurm_conf, davinci);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_THAT(*mismatches, IsEmpty());
  // The probe's own output agrees too.
  mismatches = CheckNode(node, RenderGresConf(node), RenderNodeNameLine(node), davinci);
  ASSERT_TRUE(mismatches.ok());
  EXPECT_THAT(*mismatches, IsEmpty());
}

TEST(ProbeHuaweiHost, CheckComparesWithTheDavinciFilesThatExist) {
  const NodeInventory node = Probe(KunpengAtlasHost());
  // The driver made davinci0-6 and davinci9 (logical ids that are not bus order).
  const std::vector<std::string> davinci = {"/dev/davinci0", "/dev/davinci1", "/dev/davinci2",
                                            "/dev/davinci3", "/dev/davinci4", "/dev/davinci5",
                                            "/dev/davinci6", "/dev/davinci9"};
  absl::StatusOr<std::vector<std::string>> mismatches =
      CheckNode(node, "NodeName=npu-k01 Name=npu Type=910b File=/dev/davinci[0-7]\n",
                "NodeName=npu-k01 Gres=npu:910b:8\n", davinci);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_THAT(*mismatches,
              ElementsAre("gres.conf: File=/dev/davinci7 does not exist on this host",
                          "this host: no /dev/davinci7 for the NPU at 0000:c2:00.0 (numbered in "
                          "bus order): pass --npu-map from `npu-smi info -m`"));
}

TEST(ProbeHuaweiHost, UnknownHuaweiDeviceIsReportedNotNumbered) {
  using namespace testing;
  TopologyXmlBuilder builder = KunpengAtlasHost();
  builder.Direct(0, {0x04, 0x19e5, 0xd999, 0x1200});  // below every NPU's bus
  const NodeInventory node = Probe(builder);
  EXPECT_EQ(Files(node).front(), "/dev/davinci0");
  EXPECT_EQ(Files(node).back(), "/dev/davinci7");
  EXPECT_EQ(node.devices.back().pci_bus_id, "0000:04:00.0");
  EXPECT_FALSE(node.devices.back().numbered());
  EXPECT_THAT(RenderGresConf(node),
              HasSubstr("# skipped 0000:04:00.0: huawei device 19e5:d999 is not in "
                        "accelpack's PCI catalog; no /dev/davinci number"));
  EXPECT_EQ(BuildReport(node)["unnumbered_devices"][0]["pci_id"], "19e5:d999");
}

TEST(ProbeHuaweiHost, NpuMapGivesTheLogicalIds) {
  // npu-smi's view: logical ids are not bus order on this board.
  absl::StatusOr<NpuLogicalIds> ids = ParseNpuLogicalIds(
      "# bus id        logical id\n"
      "0000:01:00.0 3\n0000:02:00.0 2\n0000:41:00.0 | 1\n41:00.0x\n"
      "0000:42:00.0, 0\nC1:00.0 7\n0000:c2:00.0 6\n0000:81:00.0 5\n0000:82:00.0 4\n",
      "map.txt");
  ASSERT_TRUE(ids.ok()) << ids.status();
  ProbeOptions options;
  options.npu_logical_ids = *ids;
  const NodeInventory node = Probe(KunpengAtlasHost(), options);
  ASSERT_EQ(node.devices.size(), 8u);
  std::vector<std::string> order;
  for (const Device& device : node.devices) {
    order.push_back(device.DeviceFile() + "=" + device.pci_bus_id);
  }
  EXPECT_THAT(order, ElementsAre("/dev/davinci0=0000:42:00.0", "/dev/davinci1=0000:41:00.0",
                                 "/dev/davinci2=0000:02:00.0", "/dev/davinci3=0000:01:00.0",
                                 "/dev/davinci4=0000:82:00.0", "/dev/davinci5=0000:81:00.0",
                                 "/dev/davinci6=0000:c2:00.0", "/dev/davinci7=0000:c1:00.0"));
  EXPECT_THAT(RenderGresConf(node),
              HasSubstr("# /dev/davinciN from the given NPU map (bus id -> logical id)\n"));
}

TEST(ProbeHuaweiHost, BadNpuMapsAreRefused) {
  EXPECT_THAT(
      std::string(ParseNpuLogicalIds("0000:01:00.0 0\n0000:02:00.0 0\n", "m").status().message()),
      HasSubstr("m line 2: logical id 0 is given to 0000:01:00.0 and 0000:02:00.0"));
  EXPECT_THAT(std::string(ParseNpuLogicalIds("0000:01:00.0 0 1\n", "m").status().message()),
              HasSubstr("m line 1: expected one PCI bus id and one logical id"));
  EXPECT_THAT(std::string(ParseNpuLogicalIds("NPU  Chip\n", "m").status().message()),
              HasSubstr("m: no \"bus id, logical id\" lines"));
  // A map that leaves an NPU out, or names a device this node does not have.
  ProbeOptions options;
  options.npu_logical_ids = NpuLogicalIds{{"0000:01:00.0", 0}};
  absl::StatusOr<NodeInventory> node = ProbeXmlText(KunpengAtlasHost().Build(), "k.xml", options);
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(std::string(node.status().message()),
              HasSubstr("k.xml: the NPU map gives no logical id for Huawei Ascend 910B at "
                        "0000:02:00.0"));
  options.npu_logical_ids = {{"0000:01:00.0", 0}, {"0000:02:00.0", 1}, {"0000:41:00.0", 2},
                             {"0000:42:00.0", 3}, {"0000:81:00.0", 4}, {"0000:82:00.0", 5},
                             {"0000:c1:00.0", 6}, {"0000:c2:00.0", 7}, {"0000:75:00.0", 8}};
  node = ProbeXmlText(KunpengAtlasHost().Build(), "k.xml", options);
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(std::string(node.status().message()),
              HasSubstr("names 0000:75:00.0 (logical id 8), which is not a Huawei accelerator"));
}

// --- NVLink ----------------------------------------------------------------------

// HGX H100 4-GPU: each GPU's 18 NVLinks go 6 to each peer, no NVSwitch.
TopologyXmlBuilder Hgx4(bool with_nvlink_matrix) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("hgx4").Cpus(2, 2, 1);
  const std::vector<int> buses = {0x19, 0x3b, 0x9a, 0xbb};
  builder.Direct(0, H100Sxm(0x19)).Direct(0, H100Sxm(0x3b));
  builder.Direct(1, H100Sxm(0x9a)).Direct(1, H100Sxm(0xbb));
  if (with_nvlink_matrix) {
    for (size_t a = 0; a < buses.size(); ++a) {
      for (size_t b = a + 1; b < buses.size(); ++b) builder.NvLink(buses[a], buses[b], 6);
    }
  }
  return builder;
}

constexpr absl::string_view kHgx4GresConf =
    "# gres.conf lines for hgx4 (accelpack-probe)\n"
    "NodeName=hgx4 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-1 "
    "Links=-1,6,6,6\n"
    "NodeName=hgx4 Name=gpu Type=h100 File=/dev/nvidia1 Cores=0-1 Links=6,-1,6,6\n"
    "NodeName=hgx4 Name=gpu Type=h100 File=/dev/nvidia2 Cores=2-3 Links=6,6,-1,6\n"
    "NodeName=hgx4 Name=gpu Type=h100 File=/dev/nvidia3 Cores=2-3 Links=6,6,6,-1\n";

TEST(ProbeNvLink, ImplausibleBandwidthIsLeftOutWithANote) {
  TopologyXmlBuilder builder = Hgx4(true);
  builder.NvLink(0x19, 0x3b, 1'000'000);  // 25 TB/s between two GPUs: a broken matrix
  const NodeInventory node = Probe(builder);
  ASSERT_TRUE(node.nvlinks.has_value());
  EXPECT_FALSE(node.nvlinks->gpu_links.contains({0, 1}));
  EXPECT_EQ(node.nvlinks->gpu_links.at({0, 3}), 6);
  EXPECT_THAT(node.notes, ::testing::Contains(HasSubstr("more than 64 links between two GPUs")));
}

TEST(ProbeBadExport, TwoAcceleratorsAtOnePciAddressAreRefused) {
  TopologyXmlBuilder builder;
  builder.HostName("dup").Cpus(2, 2, 1);
  builder.Direct(0, testing::H100Sxm(0x19)).Direct(1, testing::H100Sxm(0x19));
  absl::StatusOr<NodeInventory> node = ProbeXmlText(builder.Build(), "dup.xml");
  ASSERT_FALSE(node.ok()) << "numbered " << node->devices.size() << " devices";
  EXPECT_THAT(std::string(node.status().message()),
              AllOf(HasSubstr("dup.xml"), HasSubstr("two accelerators at PCI address")));
}

TEST(ProbeMemory, ABytesCountPastInt64IsRefusedNotNegative) {
  std::string xml = Hgx4(false).Build();
  // hwloc reads local_memory as an unsigned 64-bit count of bytes.
  for (const char* bytes : {"9223372036854775808", "18446744073709551615"}) {
    std::string changed = xml;
    size_t at = 0;
    while ((at = changed.find("local_memory=\"", at)) != std::string::npos) {
      at += 14;
      changed.replace(at, changed.find('"', at) - at, bytes);
    }
    ASSERT_NE(changed, xml);
    absl::StatusOr<NodeInventory> node = ProbeXmlText(changed, "big.xml");
    ASSERT_FALSE(node.ok()) << bytes << ": RealMemory " << node->real_memory_mib;
    EXPECT_THAT(std::string(node.status().message()),
                AllOf(HasSubstr("big.xml"), HasSubstr("MiB of memory")));
  }
}

TEST(ProbeReport, NumaIndexesPastTwoToThe31AreWrittenAsTheyAre) {
  // hwloc's os_index is unsigned; an unknown one is 2^32 - 1, not -1.
  NodeInventory node = Probe(Hgx4(false));
  ASSERT_FALSE(node.numa_nodes.empty());
  ASSERT_FALSE(node.devices.empty());
  node.numa_nodes[0].os_index = 4294967295u;
  node.devices[0].numa_nodes = {2147483648u};
  const json report = BuildReport(node);
  EXPECT_EQ(report["numa_nodes"][0]["os_index"].get<int64_t>(), int64_t{4294967295});
  EXPECT_EQ(report["devices"][0]["numa_nodes"][0].get<int64_t>(), int64_t{2147483648});
}

TEST(ProbeNvLink, FourGpuHgxFromTheExportsMatrix) {
  const NodeInventory node = Probe(Hgx4(true));
  ASSERT_TRUE(node.nvlinks.has_value());
  EXPECT_EQ(node.nvlinks->gpu_links.size(), 6u);
  EXPECT_EQ(node.nvlinks->gpu_links.at({0, 3}), 6);
  EXPECT_EQ(RenderGresConf(node), kHgx4GresConf);
  EXPECT_EQ(BuildReport(node)["link_groups"], json({{0, 1, 2, 3}}));
  EXPECT_EQ(BuildReport(node)["kinds"][0]["interconnect"], "nvlink");
}

TEST(ProbeNvLink, FourGpuHgxIsAWholeBoardWithoutTheMatrix) {
  const NodeInventory node = Probe(Hgx4(false));
  EXPECT_FALSE(node.nvlinks.has_value());
  EXPECT_EQ(RenderGresConf(node), kHgx4GresConf);
  EXPECT_THAT(node.notes, IsEmpty());
}

constexpr std::array<int, 8> kHgx8Gpus = {0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb};

TopologyXmlBuilder Hgx8() {
  TopologyXmlBuilder builder;
  builder.HostName("hgx8").Cpus(2, 2, 1);
  for (size_t i = 0; i < kHgx8Gpus.size(); ++i) {
    builder.Direct(i < 4 ? 0 : 1, testing::H100Sxm(kHgx8Gpus[i]));
  }
  return builder;
}

TEST(ProbeNvLink, EightGpuBoardThroughNvSwitchesIsZeroAsSlurmWrites) {
  using namespace testing;
  TopologyXmlBuilder builder = Hgx8();
  const std::vector<int> switches = {0x05, 0x06, 0x07, 0x08};
  builder.Switch(TopologyXmlBuilder::kMachine,
                 {NvSwitch(0x05), NvSwitch(0x06), NvSwitch(0x07), NvSwitch(0x08)});
  // 18 links per GPU spread 5,4,4,5 over the four NVSwitches, none GPU to GPU.
  for (int gpu : kHgx8Gpus) {
    for (size_t s = 0; s < switches.size(); ++s) {
      builder.NvLink(gpu, switches[s], s == 0 || s == 3 ? 5 : 4);
    }
  }
  const NodeInventory node = Probe(builder);
  ASSERT_TRUE(node.nvlinks.has_value());
  EXPECT_THAT(node.nvlinks->gpu_links, IsEmpty());
  EXPECT_EQ(node.nvlinks->switches.at(0).size(), 4u);
  const std::string conf = RenderGresConf(node);
  EXPECT_THAT(conf, HasSubstr("File=/dev/nvidia0 Cores=0-1 Links=-1,0,0,0,0,0,0,0\n"));
  EXPECT_THAT(conf, HasSubstr("File=/dev/nvidia7 Cores=2-3 Links=0,0,0,0,0,0,0,-1\n"));
  EXPECT_EQ(BuildReport(node)["link_groups"], json({{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(BuildReport(node)["kinds"][0]["interconnect"], "nvswitch");
}

// An export whose matrix lost the NVSwitches (their PCI functions filtered out of
// it) shows 8 SXM GPUs without any NVLink: the catalog's board is used instead.
TEST(ProbeNvLink, MatrixWithoutLinksForSxmGpusFallsBackToTheCatalog) {
  TopologyXmlBuilder builder = Hgx8();
  builder.NvLink(0x18, 0x2a, 0);  // the matrix exists, with nothing in it
  const NodeInventory node = Probe(builder);
  ASSERT_TRUE(node.nvlinks.has_value());
  EXPECT_THAT(RenderGresConf(node),
              HasSubstr("File=/dev/nvidia0 Cores=0-1 Links=-1,0,0,0,0,0,0,0\n"));
  EXPECT_EQ(BuildReport(node)["kinds"][0]["interconnect"], "nvswitch");
}

TEST(ProbeNvLink, NvlBridgePairsComeFromTheMatrixOnly) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("nvl01").Cpus(1, 4, 1);
  for (int bus : {0x17, 0x31, 0x4b, 0x65}) builder.Direct(0, H100Nvl(bus));
  // Bridged 0x17 <-> 0x4b and 0x31 <-> 0x65 (12 NVLinks each), not in bus order.
  const NodeInventory without = Probe(builder);
  EXPECT_THAT(RenderGresConf(without), ::testing::Not(HasSubstr("Links=")));
  EXPECT_THAT(without.notes,
              ElementsAre(HasSubstr("NVLink bridges between NVIDIA H100 NVL cards do not show "
                                    "on PCI")));
  builder.NvLink(0x17, 0x4b, 12).NvLink(0x31, 0x65, 12);
  const NodeInventory node = Probe(builder);
  EXPECT_THAT(RenderGresConf(node), HasSubstr("File=/dev/nvidia0 Cores=0-3 Links=-1,0,12,0\n"));
  EXPECT_THAT(RenderGresConf(node), HasSubstr("File=/dev/nvidia1 Cores=0-3 Links=0,-1,0,12\n"));
  EXPECT_EQ(BuildReport(node)["link_groups"], json({{0, 2}, {1, 3}}));
  EXPECT_THAT(node.notes, IsEmpty());
}

// --- memory, CPU-only nodes, limits ----------------------------------------------

TEST(ProbeMemory, HwlocV1ExportLeavesGpuMemoryOutOfRealMemory) {
  using namespace testing;
  TopologyXmlBuilder v2;
  v2.HostName("p9").Cpus(2, 2, 1).MemoryPerSocketMib(1024);
  v2.Direct(0, V100Sxm2(0x04)).Direct(1, V100Sxm2(0x35));
  TopologyXmlBuilder v1 = v2;
  v1.HwlocV1().CpulessNumaNode(255, 16384).CpulessNumaNode(254, 16384);
  const NodeInventory from_v1 = Probe(v1);
  const NodeInventory from_v2 = Probe(v2);
  EXPECT_EQ(from_v2.real_memory_mib, 2048);
  EXPECT_EQ(from_v1.real_memory_mib, 2048);
  EXPECT_EQ(RenderNodeNameLine(from_v1), RenderNodeNameLine(from_v2));
  EXPECT_THAT(from_v1.notes, ElementsAre(HasSubstr("hwloc 1.x export: NUMA nodes without CPUs "
                                                   "left out of RealMemory")));
  // hwloc 2.x marks GPU memory itself; its exports are not second-guessed.
  TopologyXmlBuilder v2_gpu_memory = v2;
  v2_gpu_memory.CpulessNumaNode(255, 16384);
  EXPECT_EQ(Probe(v2_gpu_memory).real_memory_mib, 2048);
}

TEST(ProbeCpuOnly, ExportWithoutPciGivesANodeNameLineWithoutGres) {
  // What `lstopo --no-io --of xml` gives: CPUs and memory, no PCI objects.
  const NodeInventory node = Probe(TopologyXmlBuilder().HostName("cpu07").Cpus(2, 4, 2));
  EXPECT_EQ(RenderNodeNameLine(node),
            "NodeName=cpu07 Sockets=2 CoresPerSocket=4 ThreadsPerCore=2 RealMemory=2048\n");
  EXPECT_THAT(RenderGresConf(node), HasSubstr("# note: the export has no PCI devices"));
}

TEST(ProbeLimits, TooManyDevicesOnOneNodeIsAnError) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("huge").Cpus(1, 2, 1);
  for (int bus = 1; bus <= kMaxDevicesPerNode + 1; ++bus) builder.Direct(0, H100Sxm(bus));
  absl::StatusOr<NodeInventory> node = ProbeXmlText(builder.Build(), "huge.xml");
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(std::string(node.status().message()),
              HasSubstr("huge.xml: more than 64 accelerators on one node"));
  // Exactly the limit is a (large) machine.
  TopologyXmlBuilder at_limit;
  at_limit.HostName("big").Cpus(1, 2, 1);
  for (int bus = 1; bus <= kMaxDevicesPerNode; ++bus) at_limit.Direct(0, H100Pcie(bus));
  EXPECT_EQ(Probe(at_limit).devices.size(), static_cast<size_t>(kMaxDevicesPerNode));
}

// --- --check with GPUs the catalog does not know ---------------------------------

TEST(CheckUncatalogued, V100GresConfMatchesAndIsCompared) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("v100n").Cpus(2, 2, 1);
  builder.Direct(0, V100Sxm2(0x04)).Direct(0, V100Sxm2(0x05));
  builder.Direct(1, V100Sxm2(0x35)).Direct(1, V100Sxm2(0x36));
  const NodeInventory node = Probe(builder);
  const std::string slurm_conf = "NodeName=v100n Gres=gpu:v100:4\n";
  absl::StatusOr<std::vector<std::string>> mismatches =
      CheckNode(node,
                "NodeName=v100n Name=gpu Type=v100 File=/dev/nvidia[0-1] Cores=0-1\n"
                "NodeName=v100n Name=gpu Type=v100 File=/dev/nvidia[2-3] Cores=2-3\n",
                slurm_conf);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_THAT(*mismatches, IsEmpty());
  // Wrong count, a missing file and wrong cores are still found.
  mismatches = CheckNode(node,
                         "NodeName=v100n Name=gpu Type=v100 File=/dev/nvidia[0-1] Cores=2-3\n"
                         "NodeName=v100n Name=gpu Type=v100 File=/dev/nvidia4\n",
                         "NodeName=v100n Gres=gpu:v100:2\n");
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_THAT(*mismatches,
              ElementsAre("gres.conf: gpu:v100 (not in accelpack's catalog) count 3, hardware "
                          "has 4",
                          "gres.conf: gpu:v100 (not in accelpack's catalog) File=/dev/nvidia4, "
                          "hardware has no such gpu:v100 (not in accelpack's catalog) device",
                          "gres.conf: gpu:v100 (not in accelpack's catalog) lacks "
                          "File=/dev/nvidia2, hardware has it",
                          "gres.conf: gpu:v100 (not in accelpack's catalog) lacks "
                          "File=/dev/nvidia3, hardware has it",
                          "gres.conf: /dev/nvidia0 Cores=2-3, hardware has 0-1",
                          "gres.conf: /dev/nvidia1 Cores=2-3, hardware has 0-1",
                          "slurm.conf: Gres gpu:v100 (not in accelpack's catalog) count 2, "
                          "hardware has 4"));
}

// A future Ascend (not in the catalog) gets no davinci number from the probe, yet a
// correct gres.conf for it still checks: its count is compared, its files are not.
TEST(CheckUncatalogued, FutureAscendCountIsCompared) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("npu-next").Cpus(1, 2, 1);
  for (int bus : {0x01, 0x02, 0x41, 0x42}) builder.Direct(0, {bus, 0x19e5, 0xd999, 0x1200});
  const NodeInventory node = Probe(builder);
  const std::string slurm_conf = "NodeName=npu-next Gres=npu:950:4\n";
  absl::StatusOr<std::vector<std::string>> mismatches =
      CheckNode(node, "NodeName=npu-next Name=npu Type=950 File=/dev/davinci[0-3]\n", slurm_conf);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  EXPECT_THAT(*mismatches, IsEmpty());
  mismatches =
      CheckNode(node, "NodeName=npu-next Name=npu Type=950 File=/dev/davinci[0-5]\n", slurm_conf);
  ASSERT_TRUE(mismatches.ok());
  EXPECT_THAT(*mismatches, ElementsAre("gres.conf: npu:950 (not in accelpack's catalog) count 6, "
                                       "hardware has 4"));
}

// /proc/driver/nvidia/gpus/0000:00:06.0/information as driver 580.159.04 wrote it on
// an H200 node (docs/probe.md "On a real Hopper node").
constexpr char kH200Information[] =
    "Model: \t\t NVIDIA H200\n"
    "IRQ:   \t\t 41\n"
    "GPU UUID: \t GPU-6514ff08-df40-7ebd-c427-11374c8393ef\n"
    "Video BIOS: \t 96.00.a5.00.1a\n"
    "Bus Type: \t PCIe\n"
    "DMA Size: \t 52 bits\n"
    "DMA Mask: \t 0xfffffffffffff\n"
    "Bus Location: \t 0000:00:06.0\n"
    "Device Minor: \t 0\n"
    "GPU Firmware: \t 580.159.04\n";

TEST(NvidiaGpuInformation, ReadsBusAndMinorFromTheDriversFile) {
  const auto gpu = ParseNvidiaGpuInformation(kH200Information, "info");
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  EXPECT_EQ(gpu->bus_id, "0000:00:06.0");
  EXPECT_EQ(gpu->minor, 0);
  EXPECT_FALSE(gpu->excluded);
  // Another driver instance added "GPU Excluded: No"; "Yes" marks a GPU it leaves alone.
  const auto excluded = ParseNvidiaGpuInformation(
      "Bus Location: 0000:C1:00.0\nDevice Minor: 7\nGPU Excluded:\t Yes\n", "f");
  ASSERT_TRUE(excluded.ok()) << excluded.status();
  EXPECT_EQ(excluded->bus_id, "0000:c1:00.0");
  EXPECT_EQ(excluded->minor, 7);
  EXPECT_TRUE(excluded->excluded);
}

TEST(NvidiaGpuInformation, ABadFileIsNamed) {
  const auto no_minor = ParseNvidiaGpuInformation("Bus Location: 0000:00:06.0\n", "/proc/x");
  ASSERT_FALSE(no_minor.ok());
  EXPECT_THAT(std::string(no_minor.status().message()),
              HasSubstr("/proc/x: no \"Device Minor: N\" line"));
  const auto no_bus = ParseNvidiaGpuInformation("Device Minor: 3\n", "/proc/y");
  ASSERT_FALSE(no_bus.ok());
  EXPECT_THAT(std::string(no_bus.status().message()), HasSubstr("/proc/y: no \"Bus Location"));
  const auto huge = ParseNvidiaGpuInformation("Bus Location: 00:06.0\nDevice Minor: 900\n", "z");
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(std::string(huge.status().message()), HasSubstr("device minor 900 is out of range"));
}

// The driver's directory as files: the live machine's numbering comes from it.
class NvidiaGpusDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/accelpack-gpus-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Gpu(const std::string& bus_id, const std::string& information) {
    std::filesystem::create_directories(root_ + "/" + bus_id);
    std::ofstream(root_ + "/" + bus_id + "/information") << information;
  }
  std::string root_;
};

TEST_F(NvidiaGpusDirectory, ExcludedGpusHaveNoNumber) {
  Gpu("0000:00:06.0", kH200Information);
  Gpu("0000:c1:00.0", "Bus Location: \t 0000:c1:00.0\nDevice Minor: \t 1\n");
  Gpu("0000:c2:00.0", "Bus Location: 0000:c2:00.0\nDevice Minor: 2\nGPU Excluded: Yes\n");
  const auto minors = LiveNvidiaMinors(root_);
  ASSERT_TRUE(minors.ok()) << minors.status();
  ASSERT_TRUE(minors->has_value());
  EXPECT_EQ(**minors, (NvidiaMinors{{"0000:00:06.0", 0}, {"0000:c1:00.0", 1}}));
  // No driver loaded: no numbers, and bus order stays.
  const auto absent = LiveNvidiaMinors(root_ + "/missing");
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(absent->has_value());
}

TEST_F(NvidiaGpusDirectory, ProblemsNameTheFile) {
  Gpu("0000:00:06.0", kH200Information);
  Gpu("0000:c1:00.0", "Bus Location: 0000:c1:00.0\nDevice Minor: 0\n");
  const auto twice = LiveNvidiaMinors(root_);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(std::string(twice.status().message()),
              HasSubstr("0000:c1:00.0/information: device minor 0 is also that of 0000:00:06.0"));
  std::filesystem::remove_all(root_ + "/0000:c1:00.0");
  std::filesystem::create_directories(root_ + "/0000:d0:00.0");
  const auto unreadable = LiveNvidiaMinors(root_);
  ASSERT_FALSE(unreadable.ok());
  EXPECT_THAT(std::string(unreadable.status().message()), HasSubstr("0000:d0:00.0/information"));
}

}  // namespace
}  // namespace accelpack::probe
