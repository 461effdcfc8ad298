// Unit tests for runtime/sys/log.h: the UTC timestamps of state.json and the JSON log lines.
#include <gtest/gtest.h>

#include <ctime>
#include <random>

#include "runtime/sys/log.h"

using vsrv::log::utc_rfc3339;

TEST(UtcRfc3339, KnownInstants) {
  EXPECT_EQ(utc_rfc3339({0, 0}), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(utc_rfc3339({951782400, 5}), "2000-02-29T00:00:00.000000005Z");  // a leap day
  EXPECT_EQ(utc_rfc3339({1796083200 + 86399, 999999999}), "2026-12-01T23:59:59.999999999Z");
  EXPECT_EQ(utc_rfc3339({-1, 0}), "1969-12-31T23:59:59.000000000Z");
}

TEST(UtcRfc3339, AgreesWithGmtime) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    time_t t = static_cast<time_t>(rng() % 8000000000ULL);  // 1970 .. 2223
    struct tm tm;
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char want[64];
    size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(want + n, sizeof want - n, ".%09dZ", 123);
    ASSERT_EQ(utc_rfc3339({t, 123}), want) << t;
  }
}
