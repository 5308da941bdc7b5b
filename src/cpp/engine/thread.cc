#include "engine/thread.h"

#include <cxxabi.h>

#include <memory>
#include <system_error>
#include <utility>

namespace npn {
namespace {

void* run_function(void* arg) {
  std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
  try {
    (*fn)();
  } catch (abi::__forced_unwind&) {
    throw;  // pthread_exit: must reach the thread's start to end it
  } catch (...) {
    // The function reports its own errors; an exception here must not abort the process.
  }
  return nullptr;
}

}  // namespace

Thread::~Thread() { detach(); }

Thread::Thread(Thread&& other) noexcept : handle_(other.handle_), joinable_(other.joinable_) {
  other.joinable_ = false;
}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    detach();
    handle_ = other.handle_;
    joinable_ = other.joinable_;
    other.joinable_ = false;
  }
  return *this;
}

Thread Thread::start(std::function<void()> fn, size_t stack_bytes) {
  auto owned = std::make_unique<std::function<void()>>(std::move(fn));
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  // A size the system refuses (below its minimum, e.g. with large static TLS) falls
  // back to the default stack.
  const bool sized = pthread_attr_setstacksize(&attr, stack_bytes) == 0;
  Thread t;
  int rc = pthread_create(&t.handle_, &attr, run_function, owned.get());
  if (rc == EINVAL && sized) rc = pthread_create(&t.handle_, nullptr, run_function, owned.get());
  pthread_attr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "could not start a thread");
  owned.release();  // the thread owns it now
  t.joinable_ = true;
  return t;
}

void Thread::join() noexcept {
  if (!joinable_) return;
  pthread_join(handle_, nullptr);
  joinable_ = false;
}

void Thread::detach() noexcept {
  if (!joinable_) return;
  pthread_detach(handle_);
  joinable_ = false;
}

}  // namespace npn
