#include "engine/parent_death.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/errors.h"

namespace npn {
namespace {

constexpr size_t kMaxPaths = 64;
constexpr size_t kMaxPathBytes = 256;

// Written by unlink_on_parent_death() before it publishes the new count; read only
// by the signal handler, up to the published count.
std::array<std::array<char, kMaxPathBytes>, kMaxPaths> g_paths{};
std::atomic<size_t> g_path_count{0};
static_assert(std::atomic<size_t>::is_always_lock_free, "the handler reads it");

// A real-time signal nobody else is likely to use (the low ones belong to glibc).
int parent_death_signal() { return SIGRTMAX; }

void clean_up_and_kill_group(int) {
  const size_t count = g_path_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < count; ++i) unlink(g_paths[i].data());
  kill(0, SIGKILL);
}

}  // namespace

void kill_group_on_parent_death(pid_t expected_parent) {
  struct sigaction action {};
  action.sa_handler = clean_up_and_kill_group;
  sigemptyset(&action.sa_mask);
  if (sigaction(parent_death_signal(), &action, nullptr) != 0 ||
      prctl(PR_SET_PDEATHSIG, parent_death_signal(), 0, 0, 0) != 0) {
    throw InvalidArgument(std::string("cannot watch the parent process: ") + std::strerror(errno));
  }
  if (getppid() != expected_parent) clean_up_and_kill_group(0);  // it died before prctl
}

void kill_group_now() noexcept {
  clean_up_and_kill_group(0);
  _exit(1);  // SIGKILL ends this process first; the compiler needs to know
}

void unlink_on_parent_death(const std::string& path) {
  const size_t count = g_path_count.load(std::memory_order_relaxed);
  if (path.empty() || path.size() >= kMaxPathBytes) {
    throw InvalidArgument("unlink_on_parent_death: path must have 1 to 255 bytes: " + path);
  }
  if (count == kMaxPaths) {
    throw InvalidArgument("unlink_on_parent_death: at most 64 paths can be registered");
  }
  std::memcpy(g_paths[count].data(), path.c_str(), path.size() + 1);
  g_path_count.store(count + 1, std::memory_order_release);
}

}  // namespace npn
