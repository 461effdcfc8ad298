// tests/unit/json_text_test.cpp: the hand-written JSON of state.json and of its cgroup record is
// byte for byte what nlohmann::json::dump() writes for the same values (runtime/json_text.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/cgroup/manager.h"
#include "runtime/json_text.h"
#include "runtime/state.h"

using namespace vsrv;
namespace jt = vsrv::runtime::json_text;

namespace {

std::string hand(std::string_view s) {
  std::string out;
  jt::append_string(out, s);
  return out;
}

// state.json as nlohmann wrote it before runtime/json_text.h.
std::string reference_state(const runtime::State& s) {
  nlohmann::json j = {{"id", s.id},         {"status", runtime::status_name(s.status)},
                      {"pid", s.pid},       {"start_time", s.start_time},
                      {"bundle", s.bundle}, {"rootfs", s.rootfs},
                      {"created", s.created}, {"owner", s.owner},
                      {"annotations", s.annotations}, {"cgroup", s.cgroup},
                      {"network", s.network}, {"config", s.config_json},
                      {"systemd_cgroup", s.systemd_cgroup}};
  return j.dump();
}

}  // namespace

TEST(JsonText, EveryAsciiByteIsEscapedAsNlohmannDoes) {
  for (int c = 0; c < 0x80; ++c) {
    std::string s = std::string("a") + static_cast<char>(c) + "b";
    EXPECT_EQ(hand(s), nlohmann::json(s).dump()) << "byte " << c;
  }
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  EXPECT_EQ(hand(all), nlohmann::json(all).dump());
  EXPECT_EQ(hand(""), "\"\"");
  EXPECT_EQ(hand("\"\\/\n"), "\"\\\"\\\\/\\n\"");
}

TEST(JsonText, NonAsciiGoesThroughNlohmannWithItsUtf8Check) {
  std::string utf8 = "caf\xc3\xa9 \xe2\x82\xac \"q\"";
  EXPECT_EQ(hand(utf8), nlohmann::json(utf8).dump());
  std::string bad = "a\xff" "b";
  std::string out;
  EXPECT_THROW(jt::append_string(out, bad), nlohmann::json::type_error);
}

TEST(JsonText, Numbers) {
  for (long long v : {0LL, 1LL, -1LL, 42LL, -2147483648LL, 9223372036854775807LL, -9223372036854775807LL - 1}) {
    std::string out;
    jt::append_int(out, v);
    EXPECT_EQ(out, nlohmann::json(v).dump());
  }
  for (unsigned long long v : {0ULL, 7ULL, 18446744073709551615ULL}) {
    std::string out;
    jt::append_uint(out, v);
    EXPECT_EQ(out, nlohmann::json(v).dump());
  }
}

TEST(JsonText, StateFileIsWhatNlohmannWrote) {
  runtime::State s;
  EXPECT_EQ(runtime::state_file_text(s), reference_state(s));
  s.id = "c1";
  s.status = runtime::Status::Running;
  s.pid = 12345;
  s.start_time = 987654321098ULL;
  s.bundle = "/tmp/b \"x\"\\y";
  s.rootfs = "/tmp/b/rootfs";
  s.created = "2026-11-30T07:00:00.123456789Z";
  s.owner = "root";
  s.annotations = {{"z", "last"}, {"a", "first\n"}, {"org.opencontainers.x", "\x01\x1f"}, {"caf\xc3\xa9", "\xe2\x82\xac"}};
  s.cgroup = R"({"created":["/sys/fs/cgroup/cpu/vsrv"],"layout":"v1"})";
  s.network = "";
  s.config_json = "{\n\t\"ociVersion\": \"1.2.0\",\n  \"process\": {\"args\": [\"sh\", \"-c\", \"echo \\\"hi\\\"\"]}\r\n}\n";
  s.systemd_cgroup = true;
  EXPECT_EQ(runtime::state_file_text(s), reference_state(s));
  // And it reads back as the same state.
  auto back = nlohmann::json::parse(runtime::state_file_text(s));
  EXPECT_EQ(back["config"], s.config_json);
  EXPECT_EQ(back["annotations"]["a"], "first\n");
}

TEST(JsonText, CgroupRecordIsWhatNlohmannWrote) {
  nlohmann::json ref = {{"layout", "hybrid"},
                        {"paths", {{"cpu", "/sys/fs/cgroup/cpu/vsrv/c1"}, {"unified", "/sys/fs/cgroup/unified/vsrv/c1"},
                                   {"memory", "/sys/fs/cgroup/memory/a \"b\"/c1"}}},
                        {"created", {"/sys/fs/cgroup/cpu/vsrv", "/sys/fs/cgroup/cpu/vsrv/c1"}},
                        {"path", "/vsrv/c1"},
                        {"v2_root", "/sys/fs/cgroup/unified"},
                        {"v2_controllers", {"cpu", "io", "memory"}}};
  auto m = cgroup::Manager::from_json(ref.dump());
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->to_json(), ref.dump());
  nlohmann::json empty = {{"layout", "v1"}, {"paths", nlohmann::json::object()}, {"created", nlohmann::json::array()},
                          {"path", ""}, {"v2_root", ""}, {"v2_controllers", nlohmann::json::array()}};
  auto e = cgroup::Manager::from_json(empty.dump());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->to_json(), empty.dump());
}
