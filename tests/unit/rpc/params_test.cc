// SPDX-License-Identifier: GPL-2.0
#include "rpc/params.h"

#include <gtest/gtest.h>

namespace avm::rpc {
namespace {

TEST(Params, TypedAccess) {
  const Json j = {{"s", "x"}, {"n", 5}, {"b", true}, {"z", nullptr}};
  Params p(j);
  EXPECT_TRUE(p.only({"s", "n", "b", "z"}));
  EXPECT_EQ(*p.string("s"), "x");
  EXPECT_EQ(**p.opt_uint("n", 1, 10), 5U);
  EXPECT_TRUE(*p.boolean("b"));
  EXPECT_FALSE(*p.opt_string("z"));  // null is absent
  EXPECT_FALSE(*p.opt_string("missing"));
}

TEST(Params, WrongTypesNameTheParam) {
  const Json j = {{"s", 1}, {"n", "5"}, {"neg", -1}, {"big", 11}, {"b", "yes"}, {"f", 1.5}};
  Params p(j);
  auto check = [](const auto& r, const char* param) {
    ASSERT_FALSE(r) << param;
    EXPECT_EQ(r.error().code, kInvalidParams);
    EXPECT_EQ(r.error().data["param"], param);
  };
  check(p.string("s"), "s");
  check(p.opt_uint("n", 0, 10), "n");
  check(p.opt_uint("neg", 0, 10), "neg");
  check(p.opt_uint("big", 0, 10), "big");
  check(p.opt_uint("f", 0, 10), "f");
  check(p.boolean("b"), "b");
  check(p.string("missing"), "missing");
  check(p.only({"s"}), "b");
}

}  // namespace
}  // namespace avm::rpc
