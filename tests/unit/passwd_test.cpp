// Unit tests for config/passwd.cpp: /etc/passwd and /etc/group parsing and user resolution.
#include "config/passwd.h"

#include <gtest/gtest.h>

namespace vsrv::config {
namespace {

const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "# a comment\n"
    "\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\n"
    "bob:x:1001:100::/home/bob:/bin/sh\r\n"
    "nohome:x:1002:1002\n"
    "emptyhome:x:1003:1003:::\n";

const std::string kGroup =
    "root:x:0:\n"
    "wheel:x:10:alice,bob\n"
    "users:x:100:\n"
    "audio:x:29:alice\n"
    "alice:x:1000:\n"
    "dup:x:29:alice\n";

TEST(ParsePasswd, Basic) {
  auto v = parse_passwd(kPasswd);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0], (PasswdEntry{"root", 0, 0, "/root", "/bin/bash"}));
  EXPECT_EQ(v[2], (PasswdEntry{"alice", 1000, 1000, "/home/alice", "/bin/sh"}));
}

TEST(ParsePasswd, CrlfLineEnding) {
  auto v = parse_passwd(kPasswd);
  EXPECT_EQ(v[3], (PasswdEntry{"bob", 1001, 100, "/home/bob", "/bin/sh"}));
}

TEST(ParsePasswd, ShortLinesKeepIdsWithoutHomeOrShell) {
  auto v = parse_passwd(kPasswd);
  EXPECT_EQ(v[4], (PasswdEntry{"nohome", 1002, 1002, "", ""}));
  EXPECT_EQ(v[5], (PasswdEntry{"emptyhome", 1003, 1003, "", ""}));
}

TEST(ParsePasswd, SkipsMalformedLines) {
  auto v = parse_passwd(
      "good:x:1:2:g:/h:/s\n"
      "toofew:x:1\n"
      "nonnum:x:abc:1:::\n"
      "neg:x:-1:1:::\n"
      "overflow:x:4294967296:1:::\n"
      ":x:5:5:::\n"
      "gidbad:x:5:5x:::\n"
      "   # indented comment\n"
      "   \t \n"
      "last:x:4294967295:7:::");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "good");
  EXPECT_EQ(v[1].name, "last");
  EXPECT_EQ(v[1].uid, 4294967295u);
}

TEST(ParsePasswd, EmptyText) { EXPECT_TRUE(parse_passwd("").empty()); }

TEST(ParseGroup, Basic) {
  auto v = parse_group(kGroup);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0], (GroupEntry{"root", 0, {}}));
  EXPECT_EQ(v[1], (GroupEntry{"wheel", 10, {"alice", "bob"}}));
}

TEST(ParseGroup, MembersWithEmptyItemsAndNoMemberField) {
  auto v = parse_group("a:x:1:,x,,y,\nb:x:2\n");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].members, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(v[1].members.empty());
}

TEST(ParseGroup, SkipsMalformed) {
  auto v = parse_group("#c\nnogid:x\nbad:x:z:\n:x:3:\nok:x:4:\n");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "ok");
}

TEST(ResolveUser, ByName) {
  auto r = resolve_user("alice", kPasswd, kGroup);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 1000u);
  EXPECT_EQ(r->name, "alice");
  EXPECT_EQ(r->home, "/home/alice");
  // wheel, audio; "dup" has the same gid as audio and is listed once.
  EXPECT_EQ(r->additional_gids, (std::vector<std::uint32_t>{10, 29}));
}

TEST(ResolveUser, ByUidFindsEntry) {
  auto r = resolve_user("1001", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "bob");
  EXPECT_EQ(r->gid, 100u);
  EXPECT_EQ(r->home, "/home/bob");
  EXPECT_EQ(r->additional_gids, std::vector<std::uint32_t>{10});
}

TEST(ResolveUser, UnknownNumericUidIsAccepted) {
  auto r = resolve_user("4242", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 4242u);
  EXPECT_EQ(r->gid, 0u);
  EXPECT_EQ(r->home, "/");
  EXPECT_EQ(r->name, "");
  EXPECT_TRUE(r->additional_gids.empty());
}

TEST(ResolveUser, NumericWithoutAnyFiles) {
  auto r = resolve_user("5:6", "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 5u);
  EXPECT_EQ(r->gid, 6u);
  EXPECT_EQ(r->home, "/");
}

TEST(ResolveUser, UnknownName) {
  auto r = resolve_user("bob2", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "user 'bob2': no such user in the container's /etc/passwd");
}

TEST(ResolveUser, NameWithoutPasswdFile) {
  auto r = resolve_user("bob", "", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "user 'bob': no such user in the container's /etc/passwd");
}

TEST(ResolveUser, UserColonGroupName) {
  auto r = resolve_user("alice:users", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 100u);
  EXPECT_EQ(r->home, "/home/alice");
  EXPECT_TRUE(r->additional_gids.empty());  // explicit group: no supplementary groups (runc)
}

TEST(ResolveUser, UidColonGid) {
  auto r = resolve_user("1000:4000", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 4000u);
  EXPECT_EQ(r->home, "/home/alice");
}

TEST(ResolveUser, UidColonGroupName) {
  auto r = resolve_user("4242:wheel", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 4242u);
  EXPECT_EQ(r->gid, 10u);
}

TEST(ResolveUser, UnknownGroup) {
  auto r = resolve_user("alice:nogroup", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "group 'nogroup': no such group in the container's /etc/group");
}

TEST(ResolveUser, EmptyGroupAfterColon) {
  auto r = resolve_user("alice:", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "user 'alice:': empty group after ':'");
}

TEST(ResolveUser, EmptySpecIsRoot) {
  auto r = resolve_user("", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 0u);
  EXPECT_EQ(r->name, "root");
  EXPECT_EQ(r->home, "/root");
}

TEST(ResolveUser, EmptyUserWithGroup) {
  auto r = resolve_user(":wheel", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 0u);
  EXPECT_EQ(r->gid, 10u);
}

TEST(ResolveUser, EntryWithoutHomeGetsSlash) {
  auto r = resolve_user("nohome", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1002u);
  EXPECT_EQ(r->home, "/");
}

TEST(ResolveUser, FirstMatchingEntryWins) {
  auto r = resolve_user("0", "root:x:0:0::/root:\ntoor:x:0:5::/toor:\n", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "root");
  EXPECT_EQ(r->gid, 0u);
}

TEST(ResolveUser, NumericLookingNameIsTreatedAsUid) {
  // As runc: a spec that parses as a number is a uid, never a user name.
  auto r = resolve_user("123", "123:x:5:5::/h:\n", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 123u);
  EXPECT_EQ(r->name, "");
}

TEST(ResolveUser, IdsOutOfRange) {
  auto r = resolve_user("99999999999", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "user '99999999999': uid out of range");
  r = resolve_user("1:4294967296", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "group '4294967296': gid out of range");
}

}  // namespace
}  // namespace vsrv::config
