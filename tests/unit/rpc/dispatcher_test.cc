// SPDX-License-Identifier: GPL-2.0
#include "rpc/dispatcher.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace avm::rpc {
namespace {

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.add("echo", [](const Json& p, const Caller& c) -> Outcome<Json> {
      return Json{{"p", p}, {"uid", c.uid}};
    });
    d_.add("fail", [](const Json&, const Caller&) -> Outcome<Json> {
      return fault(kBusy, "busy", Json{{"why", 1}});
    });
    d_.add("throw",
           [](const Json&, const Caller&) -> Outcome<Json> { throw std::runtime_error("boom"); });
  }
  Json call(std::string_view line) {
    auto out = d_.handle_line(line, Caller{1, 1000, 1000});
    EXPECT_TRUE(out);
    return out ? Json::parse(*out) : Json();
  }
  Dispatcher d_;
};

TEST_F(DispatcherTest, CallsTheHandlerWithParamsAndCaller) {
  Json r = call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":2}})");
  EXPECT_EQ(r["result"]["p"]["x"], 2);
  EXPECT_EQ(r["result"]["uid"], 1000);
  EXPECT_EQ(r["id"], 1);
}

TEST_F(DispatcherTest, ErrorsCarryCodeAndData) {
  Json r = call(R"({"jsonrpc":"2.0","id":"a","method":"fail"})");
  EXPECT_EQ(r["error"]["code"], kBusy);
  EXPECT_EQ(r["error"]["data"]["why"], 1);
  EXPECT_EQ(r["id"], "a");
}

TEST_F(DispatcherTest, UnknownMethod) {
  Json r = call(R"({"jsonrpc":"2.0","id":1,"method":"nope"})");
  EXPECT_EQ(r["error"]["code"], kMethodNotFound);
}

TEST_F(DispatcherTest, AThrowingHandlerIsAnInternalError) {
  Json r = call(R"({"jsonrpc":"2.0","id":1,"method":"throw"})");
  EXPECT_EQ(r["error"]["code"], kInternalError);
}

TEST_F(DispatcherTest, NotificationsGetNoAnswerButRun) {
  int runs = 0;
  d_.add("count", [&runs](const Json&, const Caller&) -> Outcome<Json> {
    runs++;
    return Json::object();
  });
  EXPECT_FALSE(d_.handle_line(R"({"jsonrpc":"2.0","method":"count"})", Caller{}));
  EXPECT_EQ(runs, 1);
  // A notification of an unknown method gets no answer either.
  EXPECT_FALSE(d_.handle_line(R"({"jsonrpc":"2.0","method":"nope"})", Caller{}));
}

TEST_F(DispatcherTest, BadLinesAreAnsweredWithANullId) {
  Json r = call("{oops");
  EXPECT_EQ(r["error"]["code"], kParseError);
  EXPECT_TRUE(r["id"].is_null());
  r = call(R"([{"jsonrpc":"2.0","id":1,"method":"echo"}])");
  EXPECT_EQ(r["error"]["code"], kInvalidRequest);
}

}  // namespace
}  // namespace avm::rpc
