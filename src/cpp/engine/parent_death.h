// Ties a model-copy process (and everything it started) to its parent's lifetime.
#pragma once

#include <sys/types.h>

#include <string>

namespace npn {

// Makes the kernel signal this process when its parent dies, and installs a handler
// for that signal that removes the files registered with unlink_on_parent_death(),
// then kills this process's whole process group (the caller is expected to lead its
// own group). If the parent is already gone (getppid() is no longer expected_parent),
// does that at once. Works while the process is busy in any code: the handler only
// makes async-signal-safe calls (unlink, kill). Call it once, from the copy process
// itself. Throws InvalidArgument when the kernel refuses.
void kill_group_on_parent_death(pid_t expected_parent);

// What the parent-death signal does, at once: for a copy that learned otherwise that
// its parent is gone (its pipe closed), which may happen before the signal arrives.
// Kills this process too. Async-signal-safe.
[[noreturn]] void kill_group_now() noexcept;

// Registers a file (e.g. a POSIX shared-memory segment under /dev/shm) that this
// process maps and that must not outlive the parent. At most 64 paths of at most 255
// bytes (InvalidArgument beyond). Call from one thread; the handler may run at any time.
void unlink_on_parent_death(const std::string& path);

}  // namespace npn
