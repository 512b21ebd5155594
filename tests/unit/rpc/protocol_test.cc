// SPDX-License-Identifier: GPL-2.0
#include "rpc/protocol.h"

#include <gtest/gtest.h>

namespace avm::rpc {
namespace {

Outcome<Request> parse(std::string_view line, Json& id) {
  return parse_request(line, id);
}

TEST(Protocol, AWellFormedRequest) {
  Json id;
  auto r = parse(R"({"jsonrpc":"2.0","id":7,"method":"ping","params":{"a":1}})", id);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, 7);
  EXPECT_FALSE(r->notification);
  EXPECT_EQ(r->method, "ping");
  EXPECT_EQ(r->params["a"], 1);
}

TEST(Protocol, NotificationsAndAbsentParams) {
  Json id;
  auto r = parse(R"({"jsonrpc":"2.0","method":"ping"})", id);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->notification);
  EXPECT_TRUE(r->params.is_object());
  EXPECT_TRUE(r->params.empty());
  auto s = parse(R"({"jsonrpc":"2.0","id":"x","method":"ping","params":null})", id);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->id, "x");
}

TEST(Protocol, MalformedJsonIsAParseError) {
  Json id = 5;
  for (const char* line : {"{", "not json", "{\"jsonrpc\":\"2.0\",}", "\xff\xfe"}) {
    auto r = parse(line, id);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().code, kParseError) << line;
    EXPECT_TRUE(id.is_null());
  }
}

TEST(Protocol, InvalidRequests) {
  Json id;
  const char* bad[] = {
      "[]",
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])",  // a batch
      "42",
      R"("ping")",
      R"({"id":1,"method":"ping"})",  // no jsonrpc
      R"({"jsonrpc":"1.0","id":1,"method":"ping"})",
      R"({"jsonrpc":"2.0","id":1})",  // no method
      R"({"jsonrpc":"2.0","id":1,"method":5})",
      R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})",
      R"({"jsonrpc":"2.0","id":1,"method":"ping","extra":1})",
  };
  for (const char* line : bad) {
    auto r = parse(line, id);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().code, kInvalidRequest) << line;
  }
  // The id of a request that could be read goes into the answer.
  ASSERT_FALSE(parse(R"({"jsonrpc":"1.0","id":9,"method":"ping"})", id));
  EXPECT_EQ(id, 9);
}

TEST(Protocol, PositionalParamsAreInvalidParams) {
  Json id;
  auto r = parse(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})", id);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInvalidParams);
}

TEST(Protocol, ResponseLines) {
  const std::string ok = result_line(3, Json{{"pong", true}});
  EXPECT_EQ(ok.back(), '\n');
  EXPECT_EQ(Json::parse(ok), (Json{{"jsonrpc", "2.0"}, {"id", 3}, {"result", {{"pong", true}}}}));
  const Json err = Json::parse(error_line(nullptr, Fault{kNotFound, "gone", {{"kind", "x"}}}));
  EXPECT_TRUE(err["id"].is_null());
  EXPECT_EQ(err["error"]["code"], kNotFound);
  EXPECT_EQ(err["error"]["data"]["kind"], "x");
  const Json nodata = Json::parse(error_line(1, Fault{kBusy, "b", nullptr}));
  EXPECT_FALSE(nodata["error"].contains("data"));
  // Invalid UTF-8 in a message does not throw.
  EXPECT_NO_THROW(error_line(1, Fault{kBusy, "bad \xff byte", nullptr}));
}

}  // namespace
}  // namespace avm::rpc
