// netns/helper/vsrv_nft.cpp: vsrv-nft, the only program linked with libnftables.
// Reads an nft script on stdin, runs it as one transaction, and answers on stdout: "0" for
// success, "E" and nft's message otherwise. It closes stdout before it exits, so the caller
// has its answer before the nfnetlink socket is closed: that close waits for nf_tables'
// deferred destroy work (an RCU grace period, 10-15 ms), which nobody should wait for.
// Why a separate program: vsrv is a static binary (no dynamic loader at start, docs/
// performance.md), and a static binary cannot dlopen libnftables and its six libraries
// portably. Only commands that change NAT rules run it (netns/nat.cpp).
#include <nftables/libnftables.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main() {
  std::string script;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      (void)write_all(1, "Eread the script: " + std::string(strerror(errno)));
      return 1;
    }
    if (n == 0) break;
    script.append(buf, static_cast<size_t>(n));
  }
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) {
    (void)write_all(1, "Eno nftables context");
    return 1;
  }
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
  std::string answer = rc == 0 ? std::string("0") : "E" + std::string(nft_ctx_get_error_buffer(ctx));
  (void)write_all(1, answer);
  // Let go of stdio (the caller's stderr may be a pipe someone reads to its end).
  ::close(0);
  ::close(1);
  ::close(2);
  // The slow part (the socket's close) happens at exit, after the caller has moved on.
  return rc == 0 ? 0 : 1;
}
