// A thread with an explicit stack size that never terminates the process.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <functional>

namespace npn {

// A pthread running one function. Unlike std::thread it takes a stack size (worker
// threads need far less than the 8 MiB default), and destroying a joinable Thread
// detaches it instead of calling std::terminate. An exception escaping the function
// ends the thread quietly (the runner reports its own errors); forced unwinding
// (pthread_exit, which CPython uses on threads that touch a finalizing interpreter)
// passes through. Owned by one thread: start, join and detach are not thread-safe.
class Thread {
 public:
  // Enough for Python calls with the default recursion limit, numpy and PyTorch ops.
  static constexpr size_t kDefaultStackBytes = size_t{1} << 20;

  Thread() = default;
  ~Thread();
  Thread(Thread&& other) noexcept;
  Thread& operator=(Thread&& other) noexcept;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  // Throws std::system_error naming the cause when the thread cannot be created.
  static Thread start(std::function<void()> fn, size_t stack_bytes = kDefaultStackBytes);

  bool joinable() const noexcept { return joinable_; }
  void join() noexcept;
  void detach() noexcept;

 private:
  pthread_t handle_{};
  bool joinable_ = false;
};

}  // namespace npn
