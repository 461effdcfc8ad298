// Unit tests for the parent/child handshake codec and transport (runtime/sync.h).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include "runtime/sync.h"

using namespace vsrv::runtime;

TEST(Sync, MessageIsFixedSize) { EXPECT_EQ(sizeof(WireMsg), 256u); }

TEST(Sync, ErrorRoundTripKeepsErrnoStepAndText) {
  // Given an error message built by the child
  WireMsg w = make_error_msg(Step::Mounts, ENOENT, "mount '/proc': openat2 'proc'");
  // When the parent decodes it
  vsrv::Error e = error_from(w);
  // Then errno and context survive, with the step named first
  EXPECT_EQ(e.errnum, ENOENT);
  EXPECT_EQ(e.context, "mounts: mount '/proc': openat2 'proc'");
  EXPECT_EQ(e.message(), "mounts: mount '/proc': openat2 'proc': No such file or directory");
}

TEST(Sync, LongErrorTextIsTruncatedAndTerminated) {
  std::string text(1000, 'x');
  WireMsg w = make_error_msg(Step::Exec, EACCES, text.c_str());
  EXPECT_EQ(strnlen(w.text, sizeof w.text), sizeof w.text - 1);
}

TEST(Sync, ExpectAcceptsTheRightMessage) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  ASSERT_TRUE(b.send(Msg::ChildAlive, 42));
  auto w = a.expect(Msg::ChildAlive);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->value, 42);
}

TEST(Sync, ExpectNamesBothTypesOnMismatch) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  ASSERT_TRUE(b.send(Msg::HooksRequest));
  auto w = a.expect(Msg::ChildReady);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().context.find("expected ChildReady, got HooksRequest"), std::string::npos);
}

TEST(Sync, PeerErrorBecomesResultError) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  b.send_error(Step::Caps, EPERM, "capset");
  auto w = a.expect(Msg::ChildReady);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().errnum, EPERM);
  EXPECT_EQ(w.error().context, "capabilities: capset");
}

TEST(Sync, EofIsAnError) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  b.close();
  auto w = a.expect(Msg::ChildAlive);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().context.find("peer exited"), std::string::npos);
}

TEST(Sync, FdTravelsWithMessage) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = *pair;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  vsrv::sys::unique_fd r(p[0]), w(p[1]);
  ASSERT_TRUE(b.send_fd(Msg::ConsoleFd, w));
  auto got = a.expect_fd(Msg::ConsoleFd);
  ASSERT_TRUE(got);
  ASSERT_EQ(write(got->get(), "z", 1), 1);
  char c = 0;
  ASSERT_EQ(read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'z');
  EXPECT_TRUE(fcntl(got->get(), F_GETFD) & FD_CLOEXEC);
}
