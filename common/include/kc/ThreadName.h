#pragma once
// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it, so an operator can tell
// which of the daemon's threads is busy or stuck: kc-worker, kc-accept, kc-audit-write, ...
// Linux keeps at most 15 characters; a longer name is cut there.

#include <pthread.h>

#include <string>
#include <string_view>

namespace kc {

inline void nameThisThread(std::string_view name) {
  const std::string kept(name.substr(0, 15));
  pthread_setname_np(pthread_self(), kept.c_str());
}

}  // namespace kc
