// runtime/sys/error.cpp: formatting of Error.
#include "runtime/sys/error.h"

#include <cstring>

namespace vsrv {

std::string Error::message() const {
  if (errnum == 0) return context;
  std::string s = context;
  if (!s.empty()) s += ": ";
  s += std::strerror(errnum);
  return s;
}

}  // namespace vsrv
