// The plugin's reading of --constraint (plugin/sched_accelpack/feature_expr.c): what
// every node needs, the alternatives a node needs one of, and Slurm's matching OR
// ("[a|b]": all the job's nodes take one alternative). What it cannot model makes the
// constraint weaker, never stronger. SPDX-License-Identifier: GPL-2.0-or-later
#include "feature_expr.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace accelpack::plugin {
namespace {

struct Read {
  bool ok = false;
  std::string all, any;
  bool matching = false;
  bool operator==(const Read& o) const {
    return ok == o.ok && all == o.all && any == o.any && matching == o.matching;
  }
};

std::ostream& operator<<(std::ostream& os, const Read& r) {
  return os << (r.ok ? "" : "(unread) ") << "all \"" << r.all << "\" any \"" << r.any << "\""
            << (r.matching ? " matching" : "");
}

Read Parse(const char* expr) {
  std::vector<char> buf(expr != nullptr ? 3 * std::string(expr).size() + 3 : 1, 'x');
  feature_expr_t out;
  Read read;
  read.ok = feature_expr_parse(expr, buf.data(), buf.size(), &out);
  read.all = out.all;
  read.any = out.any;
  read.matching = out.matching;
  return read;
}

TEST(FeatureExpr, AndListsEveryNodeNeeds) {
  EXPECT_EQ(Parse("a&b"), (Read{true, "a&b", "", false}));
  EXPECT_EQ(Parse("a,b"), (Read{true, "a&b", "", false}));
  EXPECT_EQ(Parse("cuda"), (Read{true, "cuda", "", false}));
  EXPECT_EQ(Parse(""), (Read{true, "", "", false}));
  EXPECT_EQ(Parse(nullptr), (Read{true, "", "", false}));
}

TEST(FeatureExpr, AlternativesANodeNeedsOneOf) {
  EXPECT_EQ(Parse("a|b"), (Read{true, "", "a|b", false}));
  EXPECT_EQ(Parse("a&b|c"), (Read{true, "", "a&b|c", false}));
}

TEST(FeatureExpr, BracketedAlternativesAreOneForAllNodes) {
  EXPECT_EQ(Parse("[rack1|rack2|rack3]"), (Read{true, "", "rack1|rack2|rack3", true}));
  // Features outside the brackets are needed everywhere.
  EXPECT_EQ(Parse("cuda&[a|b]"), (Read{true, "cuda", "a|b", true}));
  EXPECT_EQ(Parse("[a|b]&cuda,ib"), (Read{true, "cuda&ib", "a|b", true}));
  EXPECT_EQ(Parse("x&[a|b]&y"), (Read{true, "x&y", "a|b", true}));
}

// Counts and brackets that are not a plain matching OR: weaker, never stronger.
TEST(FeatureExpr, WhatCannotBeModelledOnlyWidens) {
  // A counted feature is needed by some nodes, not each: no node-level constraint.
  EXPECT_EQ(Parse("[a*2&b*4]"), (Read{true, "", "", false}));
  EXPECT_EQ(Parse("cuda&a*2"), (Read{true, "cuda", "", false}));
  // In alternatives, the count goes and the feature stays (dropping it would narrow).
  EXPECT_EQ(Parse("a*2|b"), (Read{true, "", "a|b", false}));
  // Two bracket groups, or alternatives outside brackets: flattened, not matching.
  EXPECT_EQ(Parse("[a|b]&[c|d]"), (Read{true, "", "a|b&c|d", false}));
  EXPECT_EQ(Parse("x|[a|b]"), (Read{true, "", "x|a|b", false}));
  // Parentheses: not read at all.
  EXPECT_FALSE(Parse("[(a&b)*2&c]").ok);
}

TEST(FeatureExpr, ABufferTooSmallReadsNothing) {
  char buf[4];
  feature_expr_t out;
  EXPECT_FALSE(feature_expr_parse("[a|b]&cuda", buf, sizeof buf, &out));
  EXPECT_STREQ(out.all, "");
  EXPECT_STREQ(out.any, "");
  EXPECT_FALSE(out.matching);
}

}  // namespace
}  // namespace accelpack::plugin
