// Monotonic nanosecond clock shared by every process on the host.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace npn {

// CLOCK_MONOTONIC (std::chrono::steady_clock on Linux): the same clock in every
// process of one host, so windows from different model processes line up.
inline int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time consumed by all threads of this process, in nanoseconds.
inline int64_t process_cpu_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace npn
