// cli/table.h: left-aligned text tables for `list` and `stats` (columns padded to the widest
// cell plus `gap` spaces; the last column is not padded).
#pragma once
#include <algorithm>
#include <string>
#include <vector>

namespace vsrv::cli {

inline std::string format_table(const std::vector<std::vector<std::string>>& rows, std::size_t gap) {
  std::vector<std::size_t> w;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(w[i] - r[i].size() + gap, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace vsrv::cli
