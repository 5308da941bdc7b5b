// Monotonic nanosecond clock shared by every process on the host.
#pragma once

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

}  // namespace npn
