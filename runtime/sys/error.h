// runtime/sys/error.h: the one error type of vsrv.
// Error carries errno (0 when the failure is not a syscall's) and a context chain built inside
// out: each caller prepends what it was doing, so the message reads
// "mount '/proc': openat2 'proc': No such file or directory". Result<T> is tl::expected over it.
#pragma once
#include <cerrno>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace vsrv {

struct Error {
  int errnum = 0;
  std::string context;

  Error&& wrap(std::string_view outer) && {
    context.insert(0, std::string(outer) + ": ");
    return std::move(*this);
  }
  Error& wrap(std::string_view outer) & {
    context.insert(0, std::string(outer) + ": ");
    return *this;
  }
  // "context: strerror(errnum)", or just "context" when errnum is 0.
  std::string message() const;
};

template <class T = void>
class [[nodiscard]] Result : public tl::expected<T, Error> {
  using Base = tl::expected<T, Error>;

 public:
  using Base::Base;
  Result(Base&& b) : Base(std::move(b)) {}  // NOLINT
};

inline tl::unexpected<Error> errno_error(std::string what) {
  return tl::make_unexpected(Error{errno, std::move(what)});
}
inline tl::unexpected<Error> make_error(int errnum, std::string what) {
  return tl::make_unexpected(Error{errnum, std::move(what)});
}
inline tl::unexpected<Error> fail(std::string what) {
  return tl::make_unexpected(Error{0, std::move(what)});
}
inline tl::unexpected<Error> forward(Error e) { return tl::make_unexpected(std::move(e)); }
inline tl::unexpected<Error> forward(Error e, std::string_view outer) {
  return tl::make_unexpected(std::move(e).wrap(outer));
}

}  // namespace vsrv

// Returns the error of `expr` (a Result) from the enclosing function.
#define VSRV_TRY(expr)                                                        \
  do {                                                                        \
    if (auto r_ = (expr); !r_) return tl::make_unexpected(std::move(r_).error()); \
  } while (0)
// Same, prepending context.
#define VSRV_TRYC(expr, ctx)                                                              \
  do {                                                                                    \
    if (auto r_ = (expr); !r_) return tl::make_unexpected(std::move(r_).error().wrap(ctx)); \
  } while (0)
