// runtime/json_text.cpp: see json_text.h.
#include "runtime/json_text.h"

#include <nlohmann/json.hpp>

namespace vsrv::runtime::json_text {

void append_string(std::string& out, std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) {
      out += nlohmann::json(std::string(s)).dump();  // UTF-8: checked (and written) by nlohmann
      return;
    }
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_uint(std::string& out, std::uint64_t v) {
  char d[20];
  int n = 0;
  do d[n++] = static_cast<char>('0' + v % 10); while ((v /= 10) > 0);
  while (n) out += d[--n];
}

void append_int(std::string& out, std::int64_t v) {
  if (v < 0) {
    out += '-';
    append_uint(out, 0 - static_cast<std::uint64_t>(v));
  } else {
    append_uint(out, static_cast<std::uint64_t>(v));
  }
}

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
  for (const auto& [k, v] : m) {
    append_key(out, k, first);
    append_string(out, v);
  }
  out += '}';
}

void append_key(std::string& out, std::string_view key, bool& first) {
  if (!first) out += ',';
  first = false;
  append_string(out, key);
  out += ':';
}

}  // namespace vsrv::runtime::json_text
