// runtime/json_text.h: JSON text written by hand for the files `create` and `run` write on every
// start (state.json, the cgroup record inside it), byte for byte what nlohmann::json::dump()
// writes for the same values, without its serializer. Why: the serializer is cold code in a
// process that lives a few milliseconds, and it checks every byte of the largest string (the
// config text, ~2 KiB) as UTF-8 (docs/performance.md has the profile). Strings that are
// all ASCII (the usual case) are escaped here; any other goes through nlohmann as before, so its
// UTF-8 checking (and its error on invalid UTF-8) stay exactly as they were.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace vsrv::runtime::json_text {

// `s` as a JSON string literal ("..."), appended to `out`.
void append_string(std::string& out, std::string_view s);
void append_uint(std::string& out, std::uint64_t v);
void append_int(std::string& out, std::int64_t v);
// ["a","b"] / {"k":"v",...}: in the container's order, which for std::set and std::map is the
// sorted order nlohmann's objects have too.
void append_strings(std::string& out, const std::vector<std::string>& v);
void append_strings(std::string& out, const std::set<std::string>& v);
void append_object(std::string& out, const std::map<std::string, std::string>& m);

// "key": appended with its comma (none before the first key: `first` turns false).
void append_key(std::string& out, std::string_view key, bool& first);
// "key":"value", the same way.
void append_member(std::string& out, std::string_view key, std::string_view value, bool& first);

}  // namespace vsrv::runtime::json_text
