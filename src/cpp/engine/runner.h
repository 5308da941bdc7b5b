// Runs one pipeline on N worker threads: warm-up, a start barrier, the timed loop,
// stop conditions, a call-timeout watchdog, and one merge of per-worker results.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/pipeline.h"
#include "engine/result.h"
#include "engine/run_config.h"
#include "engine/thread.h"
#include "engine/windows.h"

namespace npn {

// start(), stop() and done() may be called from any thread; wait() from one
// thread at a time. Worker threads touch only their own state on the hot path.
//
// A worker stuck in a call longer than call_timeout_s is abandoned: the run ends
// with status "timeout" and keeps everything measured, but a thread cannot be
// killed, so the stuck thread is detached and exits on its own when (if) the call
// returns, without touching the result. Running each model copy in its own process
// (the API layer does) is the full remedy for calls that never return.
class Runner {
 public:
  // Returns true when the run should stop (e.g. a signal arrived). Called from
  // the thread in wait(), about every poll interval.
  using Poll = std::function<bool()>;

  // Throws InvalidArgument for invalid settings.
  Runner(std::shared_ptr<Pipeline> pipeline, const RunSettings& settings);
  ~Runner();  // stops and joins a run that is still going
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  const RunConfig& config() const noexcept;
  // Launches the workers; throws std::logic_error if called twice. A worker thread the
  // system cannot create ends the run with status "error" naming it (not an exception).
  void start();
  void stop() noexcept;  // asks the workers to stop after their current iteration
  bool done() const noexcept;
  // Timed iterations completed so far by all workers (relaxed reads; any thread).
  int64_t live_iterations() const noexcept;
  // The windows closed since the previous call (by any thread), in order, at most
  // WindowStore::max_slots() per call. Thread-safe, during and after the run.
  //
  // Window k is closed once no worker can add a completion to it: every worker has
  // finished or been abandoned, or has handed over its completions below some later
  // window. A worker hands over when it completes its first iteration in a later
  // window (so a call in flight across a window's end holds that window open until
  // it returns), and when it finishes. Only windows that have ended are closed.
  // Delivered windows hold exactly the counts and e2e buckets of the final result.
  std::vector<LiveWindow> poll_windows();
  // Blocks until every worker has finished (or been abandoned) and merges their
  // results. Starts the run first if start() was not called.
  RunResult wait(const Poll& poll = {}, int64_t poll_interval_ns = 50'000'000);
  RunResult run(const Poll& poll = {}) { return wait(poll); }

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::vector<Thread> threads_;
  std::atomic<bool> started_{false};  // read by done() from any thread
  std::atomic<bool> waited_{false};
};

}  // namespace npn
