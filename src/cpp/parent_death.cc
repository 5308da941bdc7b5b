#include "parent_death.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace npn {
namespace {

// A real-time signal nobody else is likely to use (the low ones belong to glibc).
int parent_death_signal() { return SIGRTMAX; }

void kill_own_group(int) { kill(0, SIGKILL); }

}  // namespace

void kill_group_on_parent_death(pid_t expected_parent) {
  struct sigaction action {};
  action.sa_handler = kill_own_group;
  sigemptyset(&action.sa_mask);
  if (sigaction(parent_death_signal(), &action, nullptr) != 0 ||
      prctl(PR_SET_PDEATHSIG, parent_death_signal(), 0, 0, 0) != 0) {
    throw InvalidArgument(std::string("cannot watch the parent process: ") + std::strerror(errno));
  }
  if (getppid() != expected_parent) kill_own_group(0);  // it died before prctl took effect
}

}  // namespace npn
