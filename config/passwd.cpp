// config/passwd.cpp: see passwd.h.
#include "config/passwd.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace vsrv::config {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

std::optional<std::uint32_t> parse_id(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Calls fn(fields) for each non-blank, non-comment line.
template <class Fn>
void each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    fn(split(line, ':'));
  }
}

}  // namespace

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  each_line(text, [&](const std::vector<std::string_view>& f) {
    if (f.size() < 4 || f[0].empty()) return;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) return;
    out.push_back(PasswdEntry{.name = std::string(f[0]),
                              .uid = *uid,
                              .gid = *gid,
                              .home = f.size() > 5 ? std::string(f[5]) : std::string(),
                              .shell = f.size() > 6 ? std::string(f[6]) : std::string()});
  });
  return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  each_line(text, [&](const std::vector<std::string_view>& f) {
    if (f.size() < 3 || f[0].empty()) return;
    auto gid = parse_id(f[2]);
    if (!gid) return;
    GroupEntry g{.name = std::string(f[0]), .gid = *gid, .members = {}};
    if (f.size() > 3)
      for (auto m : split(f[3], ','))
        if (!m.empty()) g.members.emplace_back(m);
    out.push_back(std::move(g));
  });
  return out;
}

Result<ResolvedUser> resolve_user(std::string_view spec, const std::string& passwd_text,
                                  const std::string& group_text) {
  auto colon = spec.find(':');
  std::string_view user_part = spec.substr(0, colon);
  bool has_group = colon != std::string_view::npos;
  std::string_view group_part = has_group ? spec.substr(colon + 1) : std::string_view();
  if (has_group && group_part.empty()) return fail("user '" + std::string(spec) + "': empty group after ':'");

  auto all_digits = [](std::string_view v) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (all_digits(user_part) && !parse_id(user_part))
    return fail("user '" + std::string(user_part) + "': uid out of range");
  if (all_digits(group_part) && !parse_id(group_part))
    return fail("group '" + std::string(group_part) + "': gid out of range");

  ResolvedUser r;
  auto users = parse_passwd(passwd_text);
  std::optional<std::uint32_t> uid = user_part.empty() ? std::optional<std::uint32_t>(0) : parse_id(user_part);
  const PasswdEntry* entry = nullptr;
  for (const auto& e : users) {
    if (uid ? e.uid == *uid : e.name == user_part) {
      entry = &e;
      break;
    }
  }
  if (entry) {
    r.uid = entry->uid;
    r.gid = entry->gid;
    r.name = entry->name;
    if (!entry->home.empty()) r.home = entry->home;
  } else if (uid) {
    r.uid = *uid;  // a numeric uid needs no entry (gid 0, home "/", as runc)
  } else {
    return fail("user '" + std::string(user_part) + "': no such user in the container's /etc/passwd");
  }

  auto groups = parse_group(group_text);
  if (has_group) {
    if (auto gid = parse_id(group_part)) {
      r.gid = *gid;
    } else {
      auto it = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& g) { return g.name == group_part; });
      if (it == groups.end())
        return fail("group '" + std::string(group_part) + "': no such group in the container's /etc/group");
      r.gid = it->gid;
    }
    return r;
  }
  if (!r.name.empty()) {
    for (const auto& g : groups) {
      if (std::find(g.members.begin(), g.members.end(), r.name) == g.members.end()) continue;
      if (std::find(r.additional_gids.begin(), r.additional_gids.end(), g.gid) == r.additional_gids.end())
        r.additional_gids.push_back(g.gid);
    }
  }
  return r;
}

}  // namespace vsrv::config
