// config/passwd.h: vsrv's own /etc/passwd and /etc/group parser.
// The container's user is resolved from the container's files, never through NSS (getpwnam may
// dlopen and reads the host's databases). Pure functions over text, as runc's libcontainer/user.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/sys/error.h"

namespace vsrv::config {

struct PasswdEntry {
  std::string name;
  std::uint32_t uid = 0, gid = 0;
  std::string home;
  std::string shell;
  bool operator==(const PasswdEntry&) const = default;
};

struct GroupEntry {
  std::string name;
  std::uint32_t gid = 0;
  std::vector<std::string> members;
  bool operator==(const GroupEntry&) const = default;
};

// "name:password:uid:gid:gecos:home:shell" per line. Blank lines, comments ('#'), lines with
// fewer than 4 fields, an empty name or a non-numeric uid/gid are skipped; home and shell may be absent.
std::vector<PasswdEntry> parse_passwd(std::string_view text);
// "name:password:gid:member,member" per line; same skipping rules (3 fields at least).
std::vector<GroupEntry> parse_group(std::string_view text);

struct ResolvedUser {
  std::uint32_t uid = 0, gid = 0;
  std::string name;  // empty when a numeric uid has no passwd entry
  std::string home = "/";
  std::vector<std::uint32_t> additional_gids;  // groups listing `name` as a member
  bool operator==(const ResolvedUser&) const = default;
};

// Resolves a docker/runc-style user spec: "user", "uid", "user:group", "uid:gid", "uid:group".
// As runc's GetExecUser:
//  - a numeric uid/gid is used as is, even when no entry has it (then gid 0 and home "/");
//  - a name must exist: "user 'bob': no such user in the container's /etc/passwd";
//  - without an explicit group, gid is the passwd entry's and additional_gids are the groups
//    that list the user as a member; with an explicit group there are no additional gids.
//  - an empty user part (":group" or "") means uid 0.
Result<ResolvedUser> resolve_user(std::string_view spec, const std::string& passwd_text,
                                  const std::string& group_text);

}  // namespace vsrv::config
