// Ties a model-copy process (and everything it started) to its parent's lifetime.
#pragma once

#include <sys/types.h>

namespace npn {

// Makes the kernel signal this process when its parent dies, and installs a handler
// for that signal that kills this process's whole process group (the caller is
// expected to lead its own group). If the parent is already gone (getppid() is no
// longer expected_parent), kills the group at once. Works while the process is busy
// in any code: the handler is a plain async-signal-safe kill(). Call it once, from
// the copy process itself; not thread-safe against concurrent sigaction() calls.
void kill_group_on_parent_death(pid_t expected_parent);

}  // namespace npn
