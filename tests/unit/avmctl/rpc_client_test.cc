// SPDX-License-Identifier: GPL-2.0
#include "avmctl/rpc_client.h"

#include <gtest/gtest.h>

#include "fake_daemon.h"

namespace avm::avmctl {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

TEST(ParseReply, ResultAndError) {
  auto r = RpcClient::parse_reply(R"({"jsonrpc":"2.0","id":3,"result":{"pong":true}})", 3);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->result, json({{"pong", true}}));

  r = RpcClient::parse_reply(
      R"({"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"no such instance","data":{"kind":"instance"}}})",
      3);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->code, -32000);
  EXPECT_EQ(r->message, "no such instance");
  EXPECT_EQ(r->data, json({{"kind", "instance"}}));

  // Errors for a request the daemon could not read carry "id": null.
  r = RpcClient::parse_reply(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}})", 3);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, -32700);
}

TEST(ParseReply, ProtocolViolations) {
  for (const char* bad :
       {"", "garbage", "[]", "42", R"({"id":1,"result":1})",
        R"({"jsonrpc":"1.0","id":1,"result":1})", R"({"jsonrpc":"2.0","id":2,"result":1})",
        R"({"jsonrpc":"2.0","id":"1","result":1})", R"({"jsonrpc":"2.0","result":1})",
        R"({"jsonrpc":"2.0","id":null,"result":1})", R"({"jsonrpc":"2.0","id":1})",
        R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}})",
        R"({"jsonrpc":"2.0","id":1,"error":"x"})",
        R"({"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"x"}})",
        R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})"}) {
    auto r = RpcClient::parse_reply(bad, 1);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, EPROTO) << bad;
  }
}

TEST(RpcClient, SendsOneJsonRpcLine) {
  FakeDaemon d([](const json& req) { return FakeDaemon::result(req, {{"pong", true}}); });
  auto c = RpcClient::connect(d.path(), milliseconds(5000));
  ASSERT_TRUE(c) << c.error().message;
  auto r = c->call("ping", json::object());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->ok);
  const auto reqs = d.requests();
  ASSERT_EQ(reqs.size(), 1U);
  EXPECT_EQ(reqs[0], json({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}));
}

TEST(RpcClient, ParamsAndInvalidUtf8) {
  FakeDaemon d([](const json& req) { return FakeDaemon::result(req, json::object()); });
  auto c = RpcClient::connect(d.path(), milliseconds(5000));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->call("instance.show", {{"name", "bad\xff"}}));
  const auto reqs = d.requests();
  ASSERT_EQ(reqs.size(), 1U);
  EXPECT_EQ(reqs[0]["params"]["name"], "bad\xEF\xBF\xBD");  // replaced, still one valid line
}

TEST(RpcClient, FailedExchanges) {
  struct Case {
    std::string reply;
    int code;
  };
  for (const Case& c : {Case{"", ECONNRESET}, Case{"not json\n", EPROTO},
                        Case{R"({"jsonrpc":"2.0","id":99,"result":{}})"
                             "\n",
                             EPROTO},
                        Case{"hang", ETIMEDOUT}, Case{"{\"jsonrpc\":", ECONNRESET}}) {
    FakeDaemon d([&](const json&) { return c.reply; });
    auto client = RpcClient::connect(d.path(), milliseconds(300));
    ASSERT_TRUE(client);
    auto r = client->call("ping", json::object());
    ASSERT_FALSE(r) << c.reply;
    EXPECT_EQ(r.error().code, c.code) << c.reply << ": " << r.error().message;
  }
}

TEST(RpcClient, ConnectErrors) {
  EXPECT_EQ(RpcClient::connect("/nonexistent/control.sock", milliseconds(100)).error().code,
            ENOENT);
  EXPECT_EQ(RpcClient::connect(std::string(200, 'x'), milliseconds(100)).error().code,
            ENAMETOOLONG);
  // A socket file nobody listens on.
  std::string dir = "/tmp/avm-ctl-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/dead.sock";
  {
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    // NOLINTNEXTLINE: sockaddr_un is a sockaddr
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  EXPECT_EQ(RpcClient::connect(path, milliseconds(100)).error().code, ECONNREFUSED);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace avm::avmctl
