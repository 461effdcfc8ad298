// cli/words.h: which options a command line can name. vsrv registers with CLI11 only the options
// its command line can name (cli/commands.h, Globals::names): CLI11's set-up of an option is most
// of what parsing a hot verb costs, and an option the command line does not name changes nothing
// of the parse. The answer errs towards yes; a no where CLI11 would have matched the option would
// turn a valid command into an "unexpected argument" error, so the rules are the loosest that
// are still cheap:
//   --long  named when "--long" is anywhere in a word ("--long", "--long=v", and more);
//   -s      named when 's' is anywhere in a word that starts with a single dash ("-s", "-sv",
//           "-svalue", "-ds");
//   others  (positionals) always.
// A help flag anywhere (--help, --help-all, or an 'h' in a single-dash word) asks for them all.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace vsrv::cli {

inline bool single_dash_word(const std::string& w) { return w.size() >= 2 && w[0] == '-' && w[1] != '-'; }

// `spec` is CLI11's name list: "-b,--bundle", "--pid-file", "container-id".
inline bool can_name(const std::vector<std::string>& words, std::string_view spec) {
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view name = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (name.size() > 2 && name[0] == '-' && name[1] == '-') {
      for (const auto& w : words)
        if (w.find(name) != std::string::npos) return true;
    } else if (name.size() == 2 && name[0] == '-') {
      for (const auto& w : words)
        if (single_dash_word(w) && w.find(name[1], 1) != std::string::npos) return true;
    } else {
      return true;
    }
  }
  return false;
}

inline bool asks_for_help(const std::vector<std::string>& words) {
  for (const auto& w : words)
    if (w == "--help" || w == "--help-all" || (single_dash_word(w) && w.find('h', 1) != std::string::npos)) return true;
  return false;
}

}  // namespace vsrv::cli
