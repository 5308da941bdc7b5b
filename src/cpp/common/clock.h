// Monotonic nanosecond clock shared by every process on the host.
#pragma once

#include <errno.h>
#include <sys/prctl.h>
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

// Sleeps until the clock reads deadline_ns (an absolute CLOCK_MONOTONIC time), with the
// calling thread's timer slack as it is.
inline void clock_sleep_until_ns(int64_t deadline_ns) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Sleeps until the clock reads deadline_ns (an absolute CLOCK_MONOTONIC time), with the
// calling thread's timer slack lowered to 1 ns for this sleep only, so that threads of
// several processes sleeping to the same instant wake within microseconds of it.
inline void sleep_until_ns(int64_t deadline_ns) noexcept {
  const int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  clock_sleep_until_ns(deadline_ns);
  if (slack > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack), 0, 0, 0);
}

// CPU time consumed by all threads of this process, in nanoseconds.
inline int64_t process_cpu_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace npn
