// The contract's text rules (wire_text.h) and where the core applies them: names
// bounded at the boundary, reasons one printable UTF-8 line on the wire.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "accelpack/v1/wire_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "cluster_builder.h"
#include "service/proto_convert.h"

namespace accelpack::testing {
namespace {

using ::testing::HasSubstr;

// Valid UTF-8 as protobuf's `string` needs it, checked independently of wire_text:
// a round trip through std::u32string conversion would hide the same bugs.
bool IsUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80       ? 1
                          : lead >> 5 == 6  ? 2
                          : lead >> 4 == 14 ? 3
                          : lead >> 3 == 30 ? 4
                                            : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

bool HasControl(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

TEST(Printable, EscapesControlBytesAndInvalidUtf8AndKeepsTheRest) {
  EXPECT_EQ(wire::Printable("h100-0"), "h100-0");
  EXPECT_EQ(wire::Printable("a\nb\r\x1b[2J"), "a\\x0ab\\x0d\\x1b[2J");
  EXPECT_EQ(wire::Printable("j\xf6rg"), "j\\xf6rg");         // Latin-1 byte
  EXPECT_EQ(wire::Printable("j\xc3\xb6rg"), "j\xc3\xb6rg");  // the same name in UTF-8
  EXPECT_EQ(wire::Printable("\xc2\x9b"
                            "31m"),
            "\\xc2\\x9b31m");                                     // C1 CSI
  EXPECT_EQ(wire::Printable("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");  // U+2028 line separator
  EXPECT_EQ(wire::Printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
}

TEST(IsPrintable, TrueExactlyForWhatPrintableKeeps) {
  EXPECT_TRUE(wire::IsPrintable(""));
  EXPECT_TRUE(wire::IsPrintable("j\xc3\xb6rg \xe5\x8c\x97"));
  EXPECT_FALSE(wire::IsPrintable("a\rb"));
  EXPECT_FALSE(wire::IsPrintable("tab\t"));
  EXPECT_FALSE(wire::IsPrintable("j\xf6rg"));
  EXPECT_FALSE(wire::IsPrintable("\xc2\x9b"));
  EXPECT_FALSE(wire::IsPrintable("\xe2\x80\xa8"));
}

TEST(Printable, BoundsHugeInputWithoutSplittingAnEscapeOrACharacter) {
  const std::string huge = "node-" + std::string(20 << 20, 'n');
  const std::string text = wire::Printable(huge);
  EXPECT_LE(text.size(), wire::kMaxLogTextBytes);
  EXPECT_THAT(text, HasSubstr("...(20971525 bytes)"));
  // 30 escapes of 4 bytes, bound 20: 13 for "...(30 bytes)" leaves 7, one whole escape.
  const std::string escapes = wire::Printable(std::string(30, '\n'), 20);
  EXPECT_EQ(escapes, "\\x0a...(30 bytes)");
  const std::string accents =
      wire::Printable(std::string(40, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9", 52);
  EXPECT_LE(accents.size(), 52u);
  EXPECT_TRUE(IsUtf8(accents)) << accents;
}

TEST(OneLine, DropsTerminalSequencesAndCutsAtACharacterBoundary) {
  EXPECT_EQ(wire::OneLine("\x1b[1;31mred\x1b[0m", 200), "red");
  EXPECT_EQ(wire::OneLine("a\x1b]0;owned\x07"
                          "b\x1b]2;t\x1b\\c",
                          200),
            "abc");
  EXPECT_EQ(wire::OneLine("\xc2\x9b"
                          "2Jx",
                          200),
            "x");  // C1 CSI
  EXPECT_EQ(wire::OneLine("two\nlines\ttab", 200), "two lines tab");
  EXPECT_EQ(wire::OneLine("bad\xff", 200), "bad\xEF\xBF\xBD");
  EXPECT_EQ(wire::OneLine(std::string(199, 'x') + "\xc3\xa9", 200), std::string(199, 'x'));
  EXPECT_EQ(wire::Utf8Prefix("ab\xe2\x82\xac", 4), "ab");  // never half of the euro sign
}

// Random bytes, biased towards the troublesome ones (ESC, '[', C1, lead and
// continuation bytes, newlines): the promises hold for every input and bound.
TEST(WireText, PromisesHoldForRandomInput) {
  std::mt19937 random(12);
  const std::string alphabet =
      "ab[]\x1b\x07\n\\\x7f\xc2\x9b\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x80";
  for (int round = 0; round < 20000; ++round) {
    std::string input(random() % 64, ' ');
    for (char& c : input) c = alphabet[random() % alphabet.size()];
    const size_t bound = random() % 48;
    const std::string printable = wire::Printable(input, bound);
    EXPECT_LE(printable.size(), bound) << round;
    EXPECT_FALSE(HasControl(printable)) << round;
    EXPECT_TRUE(IsUtf8(printable)) << round;
    const std::string line = wire::OneLine(input, bound);
    EXPECT_LE(line.size(), bound) << round;
    EXPECT_FALSE(HasControl(line)) << round;
    EXPECT_TRUE(IsUtf8(line)) << round;
    EXPECT_LE(wire::Utf8Prefix(input, bound).size(), bound) << round;
    EXPECT_EQ(wire::IsPrintable(input), wire::Printable(input, 1 << 20) == input) << round;
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(SnapshotFromProto, RefusesAnOverlongNameNamingTheField) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("h100-0").Hopper(8).Build()};
  snapshot.pending = {JobBuilder(1).Gpus(1).Build()};
  v1::ClusterSnapshot wire = service::SnapshotToProto(snapshot);
  wire.mutable_pending_jobs(0)->add_features(std::string(wire::kMaxNameBytes + 1, 'f'));
  const auto refused = service::SnapshotFromProto(wire);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("pending_jobs[0].features[0]: 1025 bytes, longer than the 1024"));
  wire.mutable_pending_jobs(0)->mutable_features(0)->resize(wire::kMaxNameBytes);
  EXPECT_TRUE(service::SnapshotFromProto(wire).ok());
}

TEST(PlanToProto, ReasonsAreValidUtf8OnePrintableLine) {
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("h100-0").Hopper(8).Build()};
  engine::Plan plan;
  // A reason that echoes a Latin-1 name, a newline, an ANSI sequence, and runs long.
  plan.pending.push_back({1, engine::PendingCode::kResources,
                          "not in partition \"p\xe9\"\n\x1b[31mforged" + std::string(300, 'x')});
  const v1::Plan wire = service::PlanToProto(plan, snapshot, model::Catalog::BuiltIn());
  const std::string& message = wire.pending(0).message();
  EXPECT_TRUE(IsUtf8(message)) << message;
  EXPECT_FALSE(HasControl(message)) << message;
  EXPECT_LE(message.size(), wire::kMaxReasonBytes);
  EXPECT_THAT(message, HasSubstr("not in partition \"p\xEF\xBF\xBD\" forged"));
  // Serializing a `string` field with invalid UTF-8 would fail on the client's parse.
  v1::Plan parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire.SerializeAsString()));
}

}  // namespace
}  // namespace accelpack::testing
