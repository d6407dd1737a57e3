// Delta snapshots on the plugin's side: which records a cycle sends, and the bridge
// against a real core (in-process PlacementService over a Unix socket) through a
// core restart. SPDX-License-Identifier: GPL-2.0-or-later
#include "delta.h"

#include <accelpack/v1/placement.grpc.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "accelpack/v1/snapshot_records.h"
#include "accelpack_bridge.h"
#include "c_snapshot.h"
#include "convert.h"
#include "policy/policy.h"
#include "service/placement_service.h"
#include "service/policy_store.h"
#include "snapshot_builder.h"

namespace accelpack {
namespace {

namespace pb = accelpack::v1;
using bridge::DeltaSender;
using test::SnapshotBuilder;

SnapshotBuilder Cluster() {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"});
  b.Job({.id = 1}).Job({.id = 2}).Job({.id = 3});
  return b;
}

TEST(DeltaSender, FirstCycleIsWholeThenOnlyWhatChanged) {
  DeltaSender sender("ctld", 42);
  SnapshotBuilder b = Cluster();
  pb::ClusterSnapshot whole = bridge::SnapshotToProto(b.Get());
  pb::SnapshotIdentity id;
  pb::ScheduleRequest delta;
  DeltaSender::Cycle first = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  EXPECT_FALSE(first.has_delta);  // nothing acknowledged yet
  EXPECT_EQ(id.controller(), "ctld");
  EXPECT_EQ(id.epoch(), 42u);
  EXPECT_EQ(id.sequence(), 1u);
  sender.Acknowledged(first);

  delta.Clear();
  DeltaSender::Cycle same = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  ASSERT_TRUE(same.has_delta);
  EXPECT_EQ(same.changed, 0u);
  EXPECT_EQ(same.removed, 0u);
  EXPECT_EQ(delta.base_sequence(), 1u);
  EXPECT_EQ(delta.identity().sequence(), 2u);
  EXPECT_EQ(delta.snapshot().now_unix(), whole.now_unix());
  sender.Acknowledged(same);

  // A nested field of one node, one job's priority, one job gone, one new.
  pb::ClusterSnapshot next = whole;
  next.mutable_nodes(1)->mutable_accelerators(0)->set_allocated(3);
  next.mutable_pending_jobs(0)->set_priority(999);
  next.mutable_pending_jobs()->DeleteSubrange(2, 1);
  next.add_running_jobs()->set_job_id(3);
  delta.Clear();
  DeltaSender::Cycle moved = sender.Prepare(test::CSnapshot(next).get(), &id, &delta);
  ASSERT_TRUE(moved.has_delta);
  EXPECT_EQ(delta.base_sequence(), 2u);
  ASSERT_EQ(delta.snapshot().nodes_size(), 1);
  EXPECT_EQ(delta.snapshot().nodes(0).name(), "b");
  ASSERT_EQ(delta.snapshot().pending_jobs_size(), 1);
  EXPECT_EQ(delta.snapshot().pending_jobs(0).job_id(), 1u);
  ASSERT_EQ(delta.snapshot().running_jobs_size(), 1);
  ASSERT_EQ(delta.removed().pending_jobs_size(), 1);
  EXPECT_EQ(delta.removed().pending_jobs(0), 3u);
  EXPECT_EQ(moved.changed, 3u);
  EXPECT_EQ(moved.removed, 1u);

  // Not acknowledged (an error): the next cycle is whole again.
  sender.Reset();
  delta.Clear();
  EXPECT_FALSE(sender.Prepare(test::CSnapshot(next).get(), &id, &delta).has_delta);
}

namespace gp = google::protobuf;

// Every way to change one field of `m` (sub-messages recursively): a changed value,
// an added element, a changed first element; each a changed copy, named by its path.
std::vector<std::pair<std::string, std::unique_ptr<gp::Message>>> MutationsOf(
    const gp::Message& m) {
  std::vector<std::pair<std::string, std::unique_ptr<gp::Message>>> out;
  const gp::Descriptor* type = m.GetDescriptor();
  const gp::Reflection* in = m.GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const gp::FieldDescriptor* f = type->field(i);
    const auto mutant = [&](const std::string& where, const auto& change) {
      std::unique_ptr<gp::Message> copy(m.New());
      copy->CopyFrom(m);
      change(*copy, *copy->GetReflection());
      out.emplace_back(f->name() + where, std::move(copy));
    };
    const int size = f->is_repeated() ? in->FieldSize(m, f) : 0;
    if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!f->is_repeated()) {
        for (auto& inner : MutationsOf(in->GetMessage(m, f))) {
          const gp::Message& sub = *inner.second;  // (clang 14: no captured bindings)
          mutant("." + inner.first, [&](gp::Message& c, const gp::Reflection& r) {
            r.MutableMessage(&c, f)->CopyFrom(sub);
          });
        }
        continue;
      }
      for (int k = 0; k < size; ++k)
        for (auto& inner : MutationsOf(in->GetRepeatedMessage(m, f, k))) {
          const gp::Message& sub = *inner.second;
          mutant("[" + std::to_string(k) + "]." + inner.first,
                 [&](gp::Message& c, const gp::Reflection& r) {
                   r.MutableRepeatedMessage(&c, f, k)->CopyFrom(sub);
                 });
        }
      mutant("+", [&](gp::Message& c, const gp::Reflection& r) {
        gp::Message* added = r.AddMessage(&c, f);
        if (size > 0) added->CopyFrom(in->GetRepeatedMessage(m, f, 0));
      });
      continue;
    }
    switch (f->cpp_type()) {
      case gp::FieldDescriptor::CPPTYPE_STRING:
        if (f->is_repeated()) {
          mutant("+",
                 [&](gp::Message& c, const gp::Reflection& r) { r.AddString(&c, f, "added"); });
          if (size > 0)
            mutant("[0]", [&](gp::Message& c, const gp::Reflection& r) {
              r.SetRepeatedString(&c, f, 0, r.GetRepeatedString(c, f, 0) + "x");
            });
        } else {
          mutant("", [&](gp::Message& c, const gp::Reflection& r) {
            r.SetString(&c, f, r.GetString(c, f) + "x");
          });
        }
        break;
      case gp::FieldDescriptor::CPPTYPE_UINT32:
        if (f->is_repeated()) {
          mutant("+", [&](gp::Message& c, const gp::Reflection& r) { r.AddUInt32(&c, f, 7); });
          if (size > 0)
            mutant("[0]", [&](gp::Message& c, const gp::Reflection& r) {
              r.SetRepeatedUInt32(&c, f, 0, r.GetRepeatedUInt32(c, f, 0) + 1);
            });
        } else {
          mutant("", [&](gp::Message& c, const gp::Reflection& r) {
            r.SetUInt32(&c, f, r.GetUInt32(c, f) + 1);
          });
        }
        break;
      case gp::FieldDescriptor::CPPTYPE_UINT64:
        mutant("", [&](gp::Message& c, const gp::Reflection& r) {
          r.SetUInt64(&c, f, r.GetUInt64(c, f) + 1);
        });
        break;
      case gp::FieldDescriptor::CPPTYPE_INT64:
        mutant("", [&](gp::Message& c, const gp::Reflection& r) {
          r.SetInt64(&c, f, r.GetInt64(c, f) + 1);
        });
        break;
      case gp::FieldDescriptor::CPPTYPE_BOOL:
        mutant("", [&](gp::Message& c, const gp::Reflection& r) {
          r.SetBool(&c, f, !r.GetBool(c, f));
        });
        break;
      case gp::FieldDescriptor::CPPTYPE_ENUM:
        mutant("", [&](gp::Message& c, const gp::Reflection& r) {
          const int next = (r.GetEnumValue(c, f) + 1) % f->enum_type()->value_count();
          r.SetEnumValue(&c, f, f->enum_type()->value(next)->number());
        });
        break;
      default:
        ADD_FAILURE() << f->full_name() << ": a field type this test does not change";
    }
  }
  return out;
}

// Whatever field of whatever record changes, the delta carries that record as it
// is now. Fields the C records do not have (the core's own annotations) are the
// only ones that do not come through, and they are named here.
TEST(DeltaSender, AChangeToAnyFieldSendsTheRecord) {
  const pb::ClusterSnapshot rich = test::RichSnapshot();
  // (slurm_picks_devices: derived from the per-device use, no C field of its own.)
  const std::set<std::string> core_only = {"kind", "device_groups", "fraction_milli", "job_class",
                                           "slurm_picks_devices"};
  // Lists the C records keep in step (one count for both): one cannot grow alone.
  const std::set<std::string> paired = {"device_shards_total+", "device_shards_used+",
                                        "device_indices+",      "device_shards+",
                                        "reserved_cpus+",       "reserved_devices+"};
  // Wire states the core refuses (per-node reservation counts that are not one per
  // node, or without partial), which no C record can say either.
  const std::set<std::string> refused = {"reservations[0].nodes+", "reservations[0].partial"};
  int sent = 0;
  for (auto& mutation : MutationsOf(rich)) {
    const std::string& path = mutation.first;  // (clang 14: no captured bindings)
    const auto& changed = static_cast<const pb::ClusterSnapshot&>(*mutation.second);
    const test::CSnapshot c(changed);
    if (!gp::util::MessageDifferencer::Equals(changed, bridge::SnapshotToProto(c.get()))) {
      const std::string field = path.substr(path.rfind('.') + 1);
      EXPECT_EQ(core_only.count(field.substr(0, field.find_first_of("[+"))) + paired.count(field) +
                    refused.count(path),
                1u)
          << path << ": changed on the wire but not carried by the C records";
      continue;
    }
    DeltaSender sender("ctld", 1);
    pb::SnapshotIdentity id;
    pb::ScheduleRequest delta;
    sender.Acknowledged(sender.Prepare(test::CSnapshot(rich).get(), &id, &delta));
    delta.Clear();
    const DeltaSender::Cycle cycle = sender.Prepare(c.get(), &id, &delta);
    if (path.rfind("shard_rules", 0) == 0 || path == "now_unix") {
      // Snapshot-wide: shard rules make the request whole; the time is in every delta.
      EXPECT_EQ(cycle.has_delta, path == "now_unix") << path;
      if (cycle.has_delta) {
        EXPECT_EQ(delta.snapshot().now_unix(), changed.now_unix());
      }
      continue;
    }
    if (!cycle.distinct) {
      // A record list's first record again: its key twice, so the request is whole.
      EXPECT_TRUE(path.find('.') == std::string::npos && path.back() == '+') << path;
      EXPECT_FALSE(cycle.has_delta) << path;
      continue;
    }
    ASSERT_TRUE(cycle.has_delta) << path;
    // The delta holds exactly the records that differ, each as it is now, and the
    // keys that went (a changed key: the record under the old key went).
    uint32_t differing = 0;
    uint32_t gone = 0;
    wire::ForEachRecordKind([&](auto kind) {
      using R = decltype(kind);
      const auto equal_to = [](const auto& record) {
        return [&record](const auto& other) {
          return gp::util::MessageDifferencer::Equals(record, other);
        };
      };
      for (const auto& now : R::Of(changed)) {
        if (std::any_of(R::Of(rich).begin(), R::Of(rich).end(), equal_to(now))) continue;
        ++differing;
        const auto& in_delta = R::Of(delta.snapshot());
        EXPECT_TRUE(std::any_of(in_delta.begin(), in_delta.end(), equal_to(now))) << path;
      }
      for (const auto& was : R::Of(rich)) {
        const bool kept =
            std::any_of(R::Of(changed).begin(), R::Of(changed).end(),
                        [&](const auto& now) { return R::KeyOf(now) == R::KeyOf(was); });
        if (kept) continue;
        ++gone;
        const auto& removed = R::Removed(delta.removed());
        EXPECT_TRUE(std::find(removed.begin(), removed.end(), R::KeyOf(was)) != removed.end())
            << path;
      }
      return true;
    });
    EXPECT_EQ(cycle.changed, differing) << path;
    EXPECT_EQ(cycle.removed, gone) << path;
    EXPECT_EQ(differing, 1u) << path;
    ++sent;
  }
  // Every field of the four record kinds that the C records carry, at least once.
  EXPECT_GE(sent, 60);
}

TEST(DeltaSender, KeyTwiceMakesNoDeltaAndNoBase) {
  DeltaSender sender("ctld", 1);
  SnapshotBuilder b = Cluster();
  pb::ClusterSnapshot whole = bridge::SnapshotToProto(b.Get());
  pb::SnapshotIdentity id;
  pb::ScheduleRequest delta;
  sender.Acknowledged(sender.Prepare(test::CSnapshot(whole).get(), &id, &delta));
  *whole.add_pending_jobs() = whole.pending_jobs(0);
  delta.Clear();
  DeltaSender::Cycle cycle = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  EXPECT_FALSE(cycle.has_delta);  // sent whole: the core names the duplicate
  sender.Acknowledged(cycle);
  EXPECT_FALSE(sender.has_base());
}

// One kind of record in the randomized test below: its records by key, as the wire
// has them, and the keys a delta sent or removed.
template <typename Records, typename KeyOf>
std::map<std::string, std::string> ByKey(const Records& records, KeyOf key_of) {
  std::map<std::string, std::string> out;
  for (const auto& r : records) out[key_of(r)] = r.SerializeAsString();
  return out;
}

struct KeysOfDelta {
  std::set<std::string> changed;
  std::set<std::string> removed;
};

// What a correct delta against `base` holds for `now`: every key new or different,
// every key gone.
KeysOfDelta Expected(const std::map<std::string, std::string>& base,
                     const std::map<std::string, std::string>& now) {
  KeysOfDelta out;
  for (const auto& [key, record] : now) {
    auto it = base.find(key);
    if (it == base.end() || it->second != record) out.changed.insert(key);
  }
  for (const auto& [key, record] : base)
    if (!now.contains(key)) out.removed.insert(key);
  return out;
}

// Records that stay in place cost no lookup (the previous cycle's order is followed);
// this checks that following it never hides a change: lists reordered, records
// inserted, removed, changed and duplicated at random over many cycles, each delta
// compared with one computed from scratch.
TEST(DeltaSender, ReorderedListsSendExactlyWhatChanged) {
  std::mt19937 rng(7);
  const auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  pb::ClusterSnapshot now;
  now.set_now_unix(1000);
  uint32_t next_id = 1;
  int next_name = 0;
  const auto add_node = [&](size_t at) {
    pb::Node node;
    node.set_name("n" + std::to_string(next_name++));
    node.set_cpus_total(64);
    *now.mutable_nodes()->Add() = node;
    for (size_t i = static_cast<size_t>(now.nodes_size()) - 1; i > at; --i)
      now.mutable_nodes()->SwapElements(static_cast<int>(i), static_cast<int>(i - 1));
  };
  const auto add_job = [&](auto* list, size_t at) {
    auto* job = list->Add();
    job->set_job_id(next_id++);
    for (size_t i = static_cast<size_t>(list->size()) - 1; i > at; --i)
      list->SwapElements(static_cast<int>(i), static_cast<int>(i - 1));
  };
  for (int i = 0; i < 12; ++i) add_node(static_cast<size_t>(i));
  for (int i = 0; i < 30; ++i) add_job(now.mutable_pending_jobs(), static_cast<size_t>(i));
  for (int i = 0; i < 8; ++i) add_job(now.mutable_running_jobs(), static_cast<size_t>(i));
  for (int i = 0; i < 3; ++i) now.add_reservations()->set_name("r" + std::to_string(i));

  const auto node_key = [](const pb::Node& r) { return r.name(); };
  const auto job_key = [](const auto& r) { return std::to_string(r.job_id()); };
  const auto resv_key = [](const pb::AdvancedReservation& r) { return r.name(); };
  const auto all_by_key = [&](const pb::ClusterSnapshot& s) {
    return std::array{ByKey(s.nodes(), node_key), ByKey(s.pending_jobs(), job_key),
                      ByKey(s.running_jobs(), job_key), ByKey(s.reservations(), resv_key)};
  };

  DeltaSender sender("ctld", 1);
  std::optional<pb::ClusterSnapshot> base;
  int deltas = 0;
  int refused = 0;
  for (int cycle = 0; cycle < 400; ++cycle) {
    // A few changes of every sort, more on the pending list.
    for (int change = static_cast<int>(below(4)); change > 0; --change) {
      auto* pending = now.mutable_pending_jobs();
      const size_t size = static_cast<size_t>(pending->size());
      switch (below(9)) {
        case 0:  // a job starts: gone from the middle
          if (size > 0) pending->DeleteSubrange(static_cast<int>(below(size)), 1);
          break;
        case 1:  // a job arrives
          add_job(pending, below(size + 1));
          break;
        case 2:  // a priority moves, and the job with it
          if (size > 1) {
            const int from = static_cast<int>(below(size));
            pending->Mutable(from)->set_priority(static_cast<int64_t>(rng() % 100));
            pending->SwapElements(from, static_cast<int>(below(size)));
          }
          break;
        case 3:  // a field changes in place
          if (size > 0)
            pending->Mutable(static_cast<int>(below(size)))
                ->set_priority(static_cast<int64_t>(rng() % 100));
          break;
        case 4:
          if (now.nodes_size() > 0) {
            now.mutable_nodes(static_cast<int>(below(static_cast<size_t>(now.nodes_size()))))
                ->set_cpus_allocated(static_cast<uint32_t>(rng() % 64));
          }
          break;
        case 5:  // a node goes, or one comes
          if (now.nodes_size() > 1 && below(2) == 0) {
            now.mutable_nodes()->DeleteSubrange(
                static_cast<int>(below(static_cast<size_t>(now.nodes_size()))), 1);
          } else {
            add_node(below(static_cast<size_t>(now.nodes_size()) + 1));
          }
          break;
        case 6:  // running jobs end and start
          if (now.running_jobs_size() > 0 && below(2) == 0) {
            now.mutable_running_jobs()->DeleteSubrange(
                static_cast<int>(below(static_cast<size_t>(now.running_jobs_size()))), 1);
          } else {
            add_job(now.mutable_running_jobs(),
                    below(static_cast<size_t>(now.running_jobs_size()) + 1));
          }
          break;
        case 7:
          if (now.reservations_size() > 0) {
            now.mutable_reservations(static_cast<int>(below(2) == 0 ? 0 : 1) %
                                     now.reservations_size())
                ->set_end_unix(static_cast<int64_t>(rng() % 5000));
          }
          break;
        default:  // the whole list turned round
          std::reverse(pending->begin(), pending->end());
          break;
      }
    }
    pb::ClusterSnapshot sent = now;
    const bool twice = below(25) == 0 && sent.pending_jobs_size() > 1;
    if (twice) *sent.add_pending_jobs() = sent.pending_jobs(static_cast<int>(below(2)));

    pb::SnapshotIdentity id;
    pb::ScheduleRequest delta;
    test::CSnapshot records(sent);
    DeltaSender::Cycle prepared = sender.Prepare(records.get(), &id, &delta);
    if (twice) {
      EXPECT_FALSE(prepared.has_delta) << "cycle " << cycle;
      EXPECT_FALSE(prepared.distinct) << "cycle " << cycle;
    }
    ASSERT_EQ(prepared.has_delta, base.has_value() && !twice) << "cycle " << cycle;
    if (prepared.has_delta) {
      ++deltas;
      const auto before = all_by_key(*base);
      const auto after = all_by_key(sent);
      const auto got_changed = all_by_key(delta.snapshot());
      const auto id_keys = [](const auto& ids) {
        std::set<std::string> keys;
        for (uint32_t job_id : ids) keys.insert(std::to_string(job_id));
        return keys;
      };
      const std::array<std::set<std::string>, 4> got_removed = {
          std::set<std::string>(delta.removed().nodes().begin(), delta.removed().nodes().end()),
          id_keys(delta.removed().pending_jobs()), id_keys(delta.removed().running_jobs()),
          std::set<std::string>(delta.removed().reservations().begin(),
                                delta.removed().reservations().end())};
      for (size_t kind = 0; kind < 4; ++kind) {
        const KeysOfDelta want = Expected(before[kind], after[kind]);
        std::set<std::string> changed;
        for (const auto& [key, record] : got_changed[kind]) changed.insert(key);
        EXPECT_EQ(changed, want.changed) << "cycle " << cycle << ", kind " << kind;
        EXPECT_EQ(got_removed[kind], want.removed) << "cycle " << cycle << ", kind " << kind;
      }
    }
    // Now and then the core does not keep it (an error): the next one is whole.
    if (below(15) == 0) {
      sender.Reset();
      base.reset();
      ++refused;
      continue;
    }
    sender.Acknowledged(prepared);
    if (prepared.distinct) {
      base = sent;
    } else {
      base.reset();
    }
  }
  EXPECT_GT(deltas, 200);
  EXPECT_GT(refused, 5);
}

pb::PendingReason Reason(uint32_t job_id, pb::PendingReasonCode code, const std::string& message) {
  pb::PendingReason reason;
  reason.set_job_id(job_id);
  reason.set_code(code);
  reason.set_message(message);
  return reason;
}

using ReasonMap = std::map<uint32_t, std::pair<int, std::string>>;

ReasonMap ReasonsIn(const std::vector<bridge::PlannedReason>& reasons) {
  ReasonMap out;
  for (const auto& r : reasons) {
    EXPECT_TRUE(out.emplace(r.job_id, std::pair{static_cast<int>(r.code), r.message}).second)
        << "job " << r.job_id << " twice";
  }
  return out;
}

TEST(DeltaSender, ReasonDeltaMergesBackToTheWholeReasons) {
  DeltaSender sender("ctld", 7);
  SnapshotBuilder b = Cluster();
  pb::ClusterSnapshot whole = bridge::SnapshotToProto(b.Get());
  pb::SnapshotIdentity id;
  pb::ScheduleRequest delta;
  DeltaSender::Cycle first = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  pb::ScheduleResponse answer;
  *answer.mutable_plan()->add_pending() = Reason(1, pb::PENDING_REASON_RESOURCES, "no room");
  *answer.mutable_plan()->add_pending() = Reason(2, pb::PENDING_REASON_RESOURCES, "no room");
  *answer.mutable_plan()->add_pending() = Reason(3, pb::PENDING_REASON_PRIORITY, "behind 1");
  auto taken = sender.TakeReasons(answer);  // whole: as they are
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->size(), 3u);
  sender.Acknowledged(first);
  sender.KeepReasons(*std::move(taken));

  delta.Clear();
  DeltaSender::Cycle second = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  ASSERT_TRUE(second.has_delta);
  EXPECT_TRUE(delta.accepts_reason_deltas());
  // 1 unchanged (not sent), 2's message changed, 3 went (started), 4 is new.
  pb::ScheduleResponse changes;
  changes.set_reasons_base_sequence(first.sequence);
  *changes.mutable_plan()->add_pending() =
      Reason(2, pb::PENDING_REASON_RESOURCES, "no room, 1 drained");
  *changes.mutable_plan()->add_pending() = Reason(4, pb::PENDING_REASON_PRIORITY, "behind 2");
  changes.add_reasons_cleared(3);
  taken = sender.TakeReasons(changes);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(ReasonsIn(*taken), (ReasonMap{{1, {AP_REASON_RESOURCES, "no room"}},
                                          {2, {AP_REASON_RESOURCES, "no room, 1 drained"}},
                                          {4, {AP_REASON_PRIORITY, "behind 2"}}}));
  sender.Acknowledged(second);
  sender.KeepReasons(*std::move(taken));

  // The next delta merges onto the reasons kept: 1 goes (the last moved into its
  // place), 2 again unchanged.
  delta.Clear();
  DeltaSender::Cycle third = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  pb::ScheduleResponse more;
  more.set_reasons_base_sequence(second.sequence);
  more.add_reasons_cleared(1);
  *more.mutable_plan()->add_pending() = Reason(4, pb::PENDING_REASON_RESOURCES, "no room");
  taken = sender.TakeReasons(more);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(ReasonsIn(*taken), (ReasonMap{{2, {AP_REASON_RESOURCES, "no room, 1 drained"}},
                                          {4, {AP_REASON_RESOURCES, "no room"}}}));

  // Reasons taken and not kept (the plan was not delivered): the next request asks
  // for every reason, and a reason delta is refused.
  sender.Acknowledged(third);
  delta.Clear();
  sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  EXPECT_FALSE(delta.accepts_reason_deltas());

  // A reason delta on an answer this side does not hold is refused, never merged
  // onto the wrong reasons: another sequence, or after a reset.
  pb::ScheduleResponse stale;
  stale.set_reasons_base_sequence(first.sequence);
  EXPECT_EQ(sender.TakeReasons(stale).status().code(), absl::StatusCode::kFailedPrecondition);
  sender.Reset();
  stale.set_reasons_base_sequence(third.sequence);
  EXPECT_EQ(sender.TakeReasons(stale).status().code(), absl::StatusCode::kFailedPrecondition);
}

// A whole answer that names a job twice: the job keeps its last reason, once.
TEST(DeltaSender, KeptReasonsNameEachJobOnce) {
  DeltaSender sender("ctld", 8);
  SnapshotBuilder b = Cluster();
  pb::ClusterSnapshot whole = bridge::SnapshotToProto(b.Get());
  pb::SnapshotIdentity id;
  pb::ScheduleRequest delta;
  DeltaSender::Cycle first = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  pb::ScheduleResponse answer;
  *answer.mutable_plan()->add_pending() = Reason(1, pb::PENDING_REASON_RESOURCES, "first");
  *answer.mutable_plan()->add_pending() = Reason(2, pb::PENDING_REASON_RESOURCES, "two");
  *answer.mutable_plan()->add_pending() = Reason(1, pb::PENDING_REASON_PRIORITY, "last");
  auto taken = sender.TakeReasons(answer);
  ASSERT_TRUE(taken.ok());
  sender.Acknowledged(first);
  sender.KeepReasons(*std::move(taken));
  delta.Clear();
  DeltaSender::Cycle second = sender.Prepare(test::CSnapshot(whole).get(), &id, &delta);
  pb::ScheduleResponse none_changed;
  none_changed.set_reasons_base_sequence(second.sequence - 1);
  taken = sender.TakeReasons(none_changed);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(ReasonsIn(*taken),
            (ReasonMap{{1, {AP_REASON_PRIORITY, "last"}}, {2, {AP_REASON_RESOURCES, "two"}}}));
}

// The bridge's C API against the real core service.
class DeltaWithCore : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = "/tmp/accelpack-delta-test-" + std::to_string(getpid()) + ".sock";
    StartCore();
    char err[256] = "";
    client_ = ap_client_create(("unix:" + socket_).c_str(), "ctld@test", err, sizeof(err));
    ASSERT_NE(client_, nullptr) << err;
  }
  void TearDown() override {
    ap_plan_free(&plan_);
    ap_client_destroy(client_);
    StopCore();
  }
  void StartCore() {
    unlink(socket_.c_str());
    service_ = std::make_unique<service::PlacementService>(&policies_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void StopCore() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    unlink(socket_.c_str());
  }
  uint64_t CoreCycles() {
    auto stub = pb::Placement::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    pb::GetStatusResponse status;
    EXPECT_TRUE(stub->GetStatus(&context, {}, &status).ok());
    return status.cycles_total();
  }
  ap_status_t Call(SnapshotBuilder& b) {
    ap_plan_free(&plan_);
    return ap_client_schedule(client_, &b.Get(), 5000, &plan_, err_, sizeof(err_));
  }
  std::unique_ptr<pb::Placement::Stub> Stub() {
    return pb::Placement::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }
  // What the core answers to `b` as a whole snapshot it does not keep.
  ReasonMap WholeReasons(SnapshotBuilder& b) {
    pb::ScheduleRequest request;
    *request.mutable_snapshot() = bridge::SnapshotToProto(b.Get());
    pb::ScheduleResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(Stub()->Schedule(&context, request, &response).ok());
    EXPECT_EQ(response.reasons_base_sequence(), 0u);
    return ReasonsIn(bridge::ReasonsFromProto(response.plan()));
  }
  ReasonMap BridgeReasons() const {
    ReasonMap reasons;
    for (uint32_t i = 0; i < plan_.reason_cnt; ++i) {
      const ap_reason_t& r = plan_.reasons[i];
      reasons[r.job_id] = {static_cast<int>(r.code), r.message == nullptr ? "" : r.message};
    }
    return reasons;
  }

  service::PolicyStore policies_{policy::DefaultPolicy()};
  std::unique_ptr<service::PlacementService> service_;
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  ap_client_t* client_ = nullptr;
  ap_plan_t plan_{};
  char err_[512] = "";
};

TEST_F(DeltaWithCore, DeltasPlanLikeWholeSnapshotsAndACoreRestartResyncsInTheSameCall) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"});
  // 16 devices on an 8-device node: never fits, so every plan explains each job.
  for (uint32_t id = 1; id <= 3; ++id) b.Job({.id = id, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_TRUE(plan_.sent_whole);
  EXPECT_EQ(plan_.sent_records, 5u);
  EXPECT_EQ(plan_.reason_cnt, 3u);

  b.Job({.id = 4, .per_node = 2});  // fits: the core starts it
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.sent_whole);
  EXPECT_EQ(plan_.sent_records, 1u);  // only the new job travelled
  ASSERT_EQ(plan_.start_cnt, 1u);     // planned on the base's nodes
  EXPECT_EQ(plan_.starts[0].job_id, 4u);
  EXPECT_EQ(plan_.reason_cnt, 3u);  // and the base's jobs are still there
  EXPECT_EQ(plan_.resync_reason, nullptr);

  StopCore();  // restarted between two cycles: the plugin saw no error
  StartCore();
  ASSERT_EQ(Call(b), AP_OK) << err_;
  ASSERT_NE(plan_.resync_reason, nullptr);
  EXPECT_NE(std::string(plan_.resync_reason).find("no base"), std::string::npos)
      << plan_.resync_reason;
  EXPECT_TRUE(plan_.sent_whole);
  ASSERT_EQ(plan_.start_cnt, 1u);
  EXPECT_EQ(plan_.reason_cnt, 3u);

  ASSERT_EQ(Call(b), AP_OK) << err_;  // deltas again
  EXPECT_FALSE(plan_.sent_whole);
  EXPECT_EQ(plan_.resync_reason, nullptr);
}

TEST_F(DeltaWithCore, NothingChangedRestsUntilARecordChanges) {
  ap_client_set_idle_replan(client_, 60000);
  SnapshotBuilder b;
  b.Node({.name = "a"});
  b.Job({.id = 1, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  ASSERT_EQ(Call(b), AP_OK) << err_;  // acknowledged base, nothing changed: rest
  EXPECT_TRUE(plan_.unchanged);
  EXPECT_EQ(plan_.reason_cnt, 0u);
  EXPECT_EQ(CoreCycles(), 1u);

  b.Job({.id = 2, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.unchanged);
  EXPECT_EQ(plan_.reason_cnt, 2u);
  EXPECT_EQ(CoreCycles(), 2u);

  ap_client_resync(client_);  // a reconfigure: whole, and no rest before it
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.unchanged);
  EXPECT_TRUE(plan_.sent_whole);
}

TEST_F(DeltaWithCore, WithoutIdleReplanTheCoreIsAskedEveryCycle) {
  SnapshotBuilder b;
  b.Node({.name = "a"});
  b.Job({.id = 1, .per_node = 16});
  ASSERT_EQ(Call(b), AP_OK) << err_;
  ASSERT_EQ(Call(b), AP_OK) << err_;
  EXPECT_FALSE(plan_.unchanged);
  EXPECT_FALSE(plan_.sent_whole);
  EXPECT_EQ(plan_.sent_records, 0u);
  EXPECT_EQ(CoreCycles(), 2u);
}

TEST_F(DeltaWithCore, ReasonDeltasReproduceTheWholeReasonsThroughChangesAndARestart) {
  SnapshotBuilder b;
  b.Node({.name = "a"}).Node({.name = "b"});
  for (uint32_t id = 1; id <= 4; ++id) b.Job({.id = id, .per_node = 16});  // never fit
  auto cycle = [&](const char* what) {
    SCOPED_TRACE(what);
    ASSERT_EQ(Call(b), AP_OK) << err_;
    const ReasonMap merged = BridgeReasons();
    EXPECT_EQ(merged, WholeReasons(b));
    EXPECT_FALSE(merged.empty());
  };
  cycle("whole");
  cycle("nothing changed");
  b.Job({.id = 5, .per_node = 16});
  cycle("a job added");
  b.Job({.id = 6, .per_node = 8, .partitions = {"other"}});
  cycle("a job with another reason");
  b.Job({.id = 7, .per_node = 8});  // fits: starts, no reason
  cycle("a job that starts");
  b.jobs()[0].per_node = 8;  // job 1: another reason than before
  b.jobs()[0].partitions = {"other"};
  b.jobs().erase(b.jobs().begin() + 1);  // job 2 went: its reason is cleared
  cycle("a reason changed, a job gone");
  StopCore();
  StartCore();
  cycle("after a core restart (resync)");
  EXPECT_NE(plan_.resync_reason, nullptr);
  cycle("deltas again");
  ap_client_resync(client_);
  cycle("after a reconfigure");
}

// On the wire: only a plugin that says it merges reason deltas gets them, and
// only on the base it named; an older plugin's delta gets every reason.
TEST_F(DeltaWithCore, ReasonDeltasOnlyForAPluginThatAcceptsThem) {
  SnapshotBuilder b;
  b.Node({.name = "a"});
  for (uint32_t id = 1; id <= 3; ++id) b.Job({.id = id, .per_node = 16});
  auto stub = Stub();
  auto send = [&](uint64_t sequence, uint64_t base, bool accepts, pb::ScheduleResponse& response) {
    pb::ScheduleRequest request;
    if (base == 0) *request.mutable_snapshot() = bridge::SnapshotToProto(b.Get());
    request.mutable_snapshot()->set_now_unix(1000);
    request.mutable_identity()->set_controller("raw");
    request.mutable_identity()->set_epoch(1);
    request.mutable_identity()->set_sequence(sequence);
    request.set_base_sequence(base);
    request.set_accepts_reason_deltas(accepts);
    grpc::ClientContext context;
    ASSERT_TRUE(stub->Schedule(&context, request, &response).ok());
    ASSERT_FALSE(response.full_snapshot_required()) << response.full_snapshot_reason();
    EXPECT_EQ(response.kept_sequence(), sequence);
  };
  pb::ScheduleResponse whole, older, newer;
  send(1, 0, true, whole);  // a whole snapshot: every reason, whatever the flag
  EXPECT_EQ(whole.plan().pending_size(), 3);
  EXPECT_EQ(whole.reasons_base_sequence(), 0u);
  send(2, 1, false, older);
  EXPECT_EQ(older.plan().pending_size(), 3);
  EXPECT_EQ(older.reasons_base_sequence(), 0u);
  send(3, 2, true, newer);
  EXPECT_EQ(newer.reasons_base_sequence(), 2u);
  EXPECT_EQ(newer.plan().pending_size(), 0);  // nothing changed
  EXPECT_EQ(newer.reasons_cleared_size(), 0);
}

}  // namespace
}  // namespace accelpack
