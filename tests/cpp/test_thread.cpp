// npn::Thread: explicit stack size, join/detach, and no std::terminate on any path.
#include <doctest/doctest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "engine/thread.h"

using npn::Thread;

TEST_CASE("a Thread runs its function on a stack of the requested size") {
  size_t stack_bytes = 0;
  Thread t = Thread::start([&] {
    pthread_attr_t attr;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstacksize(&attr, &stack_bytes);
    pthread_attr_destroy(&attr);
  });
  CHECK(t.joinable());
  t.join();
  CHECK_FALSE(t.joinable());
  CHECK(stack_bytes >= Thread::kDefaultStackBytes);
  CHECK(stack_bytes < 2 * Thread::kDefaultStackBytes);  // not the 8 MiB default
}

TEST_CASE("destroying a joinable Thread detaches it instead of terminating") {
  std::atomic<bool> release{false};
  std::atomic<bool> ran{false};
  {
    Thread t = Thread::start([&] {
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ran.store(true);
    });
    Thread moved = std::move(t);
    CHECK_FALSE(t.joinable());  // NOLINT(bugprone-use-after-move)
    CHECK(moved.joinable());
  }
  release.store(true);
  for (int i = 0; i < 5000 && !ran.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ran.load());
}

TEST_CASE("an exception escaping the function ends only its thread") {
  Thread t = Thread::start([] { throw std::runtime_error("boom"); });
  t.join();
  CHECK_FALSE(t.joinable());
}
