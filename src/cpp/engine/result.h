// What one run produced: status, error, per-stage histograms, counts and windows.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/pipeline.h"
#include "engine/scheduler.h"
#include "engine/stage.h"
#include "engine/stream.h"
#include "histogram/histogram.h"

namespace npn {

enum class RunStatus : int8_t { kFinished, kError, kTimeout, kStopped };

// Why the run stopped; the first cause wins.
enum class StopReason : int8_t {
  kNone,
  kDuration,
  kMaxIterations,
  kInputsExhausted,
  kError,
  kTimeout,
  kStopRequested,
};

std::string_view status_name(RunStatus status);
std::string_view stop_reason_name(StopReason reason);
RunStatus status_for(StopReason reason);

// How an open-loop run kept up with its schedule (see Dispatcher and saturated()).
struct OpenLoopResult {
  Arrival arrival = Arrival::kConstant;
  double request_rate_target = 0.0;  // requests/s (replayed intervals: their mean rate)
  double achieved_rate = 0.0;        // requests completed per second of the schedule
  int64_t requests_due = 0;          // requests that arrived while the run issued them
  int64_t backlog_max = 0;           // most requests waiting for a worker at once
  int64_t backlog_end = 0;           // requests that arrived but were never started
  bool saturated = false;
  std::vector<int64_t> window_backlog;  // the largest backlog seen in each window
};

std::string_view arrival_name(Arrival arrival);

struct RunResult {
  RunStatus status = RunStatus::kFinished;
  StopReason stop_reason = StopReason::kNone;
  std::optional<ErrorInfo> error;
  std::array<Histogram, kStageCount> stages;       // indexed by Stage; unused stages stay empty
  Histogram warmup;                                // e2e of the untimed warm-up iterations
  std::vector<int64_t> worker_iterations;          // timed iterations per worker
  int abandoned_workers = 0;                       // workers left stuck in a call by the watchdog
  int64_t requests_failed = 0;                     // timed requests that threw RequestFailed
  std::map<std::string, int64_t> failure_reasons;  // their count per reason (bounded)
  int64_t start_ns = 0;                            // timing start (after warm-up), shared clock
  int64_t end_ns = 0;                              // end of the last timed iteration
  int64_t window_ns = 0;
  std::vector<int64_t>
      windows;  // completions per window; window i starts at start_ns + i * window_ns
  // e2e latencies of the iterations completed in each group of window_histogram_span
  // windows: histogram j covers windows [j * span, (j + 1) * span). The span is 1 up to
  // WindowStore::max_slots() windows and doubles beyond, bounding memory.
  std::vector<Histogram> window_histograms;
  int64_t window_histogram_span = 1;
  int64_t cpu_ns = 0;  // process CPU time between start_ns and the end of the run
  std::optional<OpenLoopResult> open_loop;  // set for open-loop runs
  // Streamed runs: the token metrics of all workers, their window histograms (indexed by
  // TokenMetric, each list spanning window_histogram_span windows per histogram as the e2e
  // ones), and with record_requests one record per timed request, worker-major.
  std::optional<TokenStats> tokens;
  std::vector<std::vector<Histogram>> token_window_histograms;
  std::vector<RequestRecord> requests;
  bool timestamps_recorded = false;
  std::vector<int64_t>
      timestamps;  // kBoundaryCount values (b0..b6) per timed iteration, worker-major

  int64_t iterations() const noexcept;
  const Histogram& stage(Stage s) const noexcept { return stages[static_cast<size_t>(s)]; }
};

}  // namespace npn
