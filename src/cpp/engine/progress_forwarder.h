// A run's live progress for the process that started it: windows, completions and the
// "stop" answer travel over a frame channel (frames.h) on a thread of their own, so
// none of it waits on the GIL or anything else the model's workers hold.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/runner.h"
#include "engine/thread.h"

namespace npn {

struct ForwarderSettings {
  int64_t period_ns = 200'000'000;  // the longest wait between two progress messages
  bool histograms = false;          // send each window's histogram too:
  int metric = -1;                  // e2e (-1), or the store's extra metric this index
};

// Owns one thread from construction until finish(); the runner must outlive it.
// Construction and finish() belong to one thread.
//
// Every period, and once more when finish() is called, it writes one frame holding
//   {"event": "progress", "iterations": N, "p99_ns": P,
//    "windows": [[index, count, histogram or null], ...]}
// (the windows closed since the previous message; histogram: base64 HdrHistogram V2 of
// the metric asked for, null where the window has no such metric;
// P: the highest p99 of the latest closed window of any message so far, in ns) and
// reads the channel: the first frame that arrives (the parent's "stop") stops the run
// and is consumed; end of file or a failed write (the parent is gone) stops it too.
class ProgressForwarder {
 public:
  // Throws std::system_error when the thread or its wake-up descriptor cannot be made.
  ProgressForwarder(Runner& runner, int fd, ForwarderSettings settings);
  ~ProgressForwarder();  // finish()
  ProgressForwarder(const ProgressForwarder&) = delete;
  ProgressForwarder& operator=(const ProgressForwarder&) = delete;

  // Sends what is left (all of it once the run has ended) and joins the thread.
  void finish() noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
  Thread thread_;
};

}  // namespace npn
