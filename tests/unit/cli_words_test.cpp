// cli/words.h: which options a command line can name. A "no" where CLI11 would have matched the
// option turns a valid command into an error, so these cases pin the rules' looseness.
#include "cli/words.h"

#include <gtest/gtest.h>

namespace vsrv::cli {
namespace {

using W = std::vector<std::string>;

TEST(CliWords, LongNamesAnywhereInAWord) {
  W w = {"--root", "/r", "run", "--bundle=/b", "x"};
  EXPECT_TRUE(can_name(w, "--root"));
  EXPECT_TRUE(can_name(w, "-b,--bundle"));  // --name=value
  EXPECT_FALSE(can_name(w, "--pid-file"));
  EXPECT_FALSE(can_name(w, "--log"));        // "--log" is not in any word
  EXPECT_TRUE(can_name({"--log-format", "json"}, "--log"));  // loose: a longer name holds it
}

TEST(CliWords, ShortNamesInSingleDashWords) {
  W w = {"run", "-d", "-bX", "id"};
  EXPECT_TRUE(can_name(w, "-d,--detach"));
  EXPECT_TRUE(can_name(w, "-b,--bundle"));   // -bVALUE
  EXPECT_FALSE(can_name(w, "-p,--publish"));
  EXPECT_TRUE(can_name({"exec", "-td", "id"}, "-t,--tty"));  // grouped flags
  EXPECT_TRUE(can_name({"exec", "-td", "id"}, "-d,--detach"));
  EXPECT_FALSE(can_name({"exec", "--tty", "id"}, "-d,--detach"));  // 'd' only in a double-dash word
  EXPECT_FALSE(can_name({"run", "-", "id"}, "-d,--detach"));
}

TEST(CliWords, PositionalsAlways) {
  EXPECT_TRUE(can_name({}, "container-id"));
  EXPECT_TRUE(can_name({"run"}, "command"));
}

TEST(CliWords, HelpAnywhereAsksForEveryOption) {
  EXPECT_TRUE(asks_for_help({"run", "--help"}));
  EXPECT_TRUE(asks_for_help({"--help-all"}));
  EXPECT_TRUE(asks_for_help({"run", "-h"}));
  EXPECT_TRUE(asks_for_help({"exec", "-th", "x"}));
  EXPECT_FALSE(asks_for_help({"run", "--hostname", "x"}));  // (not an option of ours; no 'h' rule for --)
  EXPECT_FALSE(asks_for_help({"run", "-d", "x"}));
}

}  // namespace
}  // namespace vsrv::cli
