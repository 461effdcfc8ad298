// runtime/json_text.cpp: see json_text.h.
#include "runtime/json_text.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace vsrv::runtime::json_text {

namespace {
// 0: copied as is; 1: escaped; 2: not ASCII (the whole string goes through nlohmann).
constexpr unsigned char kClass[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

template <typename T>
void append_number(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // what nlohmann writes for an integer
  out.append(buf, r.ptr);
}
}  // namespace

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Written through a pointer into room for the worst case (6 bytes for each: \u00XX), then
  // cut to size: the config text has a quote every few bytes, and an append per escape cost
  // more than the rest of the state file together.
  const std::size_t start = out.size();
  out.resize(start + 6 * s.size() + 2);
  char* o = out.data() + start;
  *o++ = '"';
  for (unsigned char c : s) {
    if (kClass[c] == 0) {
      *o++ = static_cast<char>(c);
      continue;
    }
    if (kClass[c] == 2) {  // UTF-8: checked (and written) by nlohmann
      out.resize(start);
      out += nlohmann::json(std::string(s)).dump();
      return;
    }
    *o++ = '\\';
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      default:
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = kHex[c >> 4];
        *o++ = kHex[c & 0xf];
    }
  }
  *o++ = '"';
  out.resize(static_cast<std::size_t>(o - out.data()));
}

void append_uint(std::string& out, std::uint64_t v) { append_number(out, v); }
void append_int(std::string& out, std::int64_t v) { append_number(out, v); }

namespace {
template <typename C>
void strings(std::string& out, const C& v) {
  out += '[';
  bool first = true;
  for (const auto& s : v) {
    if (!first) out += ',';
    first = false;
    append_string(out, s);
  }
  out += ']';
}
}  // namespace

void append_strings(std::string& out, const std::vector<std::string>& v) { strings(out, v); }
void append_strings(std::string& out, const std::set<std::string>& v) { strings(out, v); }

void append_object(std::string& out, const std::map<std::string, std::string>& m) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : m) append_member(out, k, v, first);
  out += '}';
}

void append_member(std::string& out, std::string_view key, std::string_view value, bool& first) {
  append_key(out, key, first);
  append_string(out, value);
}

void append_key(std::string& out, std::string_view key, bool& first) {
  if (!first) out += ',';
  first = false;
  append_string(out, key);
  out += ':';
}

}  // namespace vsrv::runtime::json_text
