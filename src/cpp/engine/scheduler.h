// When requests are issued. Closed loop: each worker issues its next request when its
// previous one completes. Open loop: requests arrive on a schedule (constant rate,
// Poisson, or replayed intervals) and a Dispatcher hands them to free workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/interval_trace.h"

namespace npn {

// Closed loop (NeuronPerf's behaviour): the next request is issued the moment the
// previous one completes, so an iteration starts where the previous one ended and
// the harness's own bookkeeping is charged to the iteration that follows it.
// One instance per worker; not shared.
class ClosedLoopSchedule {
 public:
  int64_t next_start_ns(int64_t previous_end_ns) const noexcept { return previous_end_ns; }
};

enum class Arrival : int8_t { kConstant, kPoisson, kIntervals, kGamma };

// The arrival times of an open-loop run as offsets (ns) from its start. At a rate,
// request 0 arrives at offset 0 and the gap between requests k and k + 1 is 1 / rate
// (constant), an exponential draw with mean 1 / rate (Poisson: draw k is a pure
// function of (seed, k), so streams with different seeds are independent and any copy
// of a cursor replays the same times), or a gamma draw with shape `burstiness` and the
// same mean (vLLM's and AIPerf's bursty arrivals: burstiness 1 is Poisson, below 1
// burstier, above 1 more regular; also a pure function of (seed, k)). A replayed trace
// sends its first request one interval after the start, as perf_analyzer does
// (intervals 100, 200 ms: requests at 0.1, 0.3, 0.4, 0.6 s, ...); a share (index i of n)
// serves the trace's requests i, i + n, i + 2n, ... at their times, so n shares
// together replay the whole trace.
// Immutable once built: thread-safe. Offsets saturate at kHorizonNs.
class ArrivalSchedule {
 public:
  static constexpr int64_t kHorizonNs = int64_t{1} << 60;  // ~36 years: never reached

  // A position in the schedule: request `index` arrives at `offset_ns`.
  struct Cursor {
    int64_t index = 0;
    int64_t offset_ns = 0;
    double poisson_offset_ns = 0.0;  // the unrounded sum of random (Poisson, gamma) gaps
  };

  static ArrivalSchedule constant(double rate_per_s);
  static ArrivalSchedule poisson(double rate_per_s, uint64_t seed);
  static ArrivalSchedule gamma(double rate_per_s, double burstiness, uint64_t seed);
  static ArrivalSchedule intervals(std::shared_ptr<const IntervalTrace> trace,
                                   int64_t share_index = 0, int64_t share_count = 1);

  Arrival arrival() const noexcept { return arrival_; }
  // Gaps drawn at random (Poisson, gamma): arrivals are counted by scanning.
  bool random() const noexcept {
    return arrival_ == Arrival::kPoisson || arrival_ == Arrival::kGamma;
  }
  double mean_rate_per_s() const noexcept;
  Cursor first() const noexcept;                // at request 0
  void advance(Cursor& cursor) const noexcept;  // to the next request
  // The number of requests arriving at offsets <= t_ns. Constant and interval
  // schedules compute it directly. Poisson moves `scan` (from first()) forward to the
  // first request after t_ns, by at most max_steps requests: past that, it returns
  // scan's index (a lower bound) and the next call continues (gamma likewise). Calls
  // must not go back in time.
  int64_t arrived_by(int64_t t_ns, Cursor& scan, int64_t max_steps = INT64_MAX) const noexcept;

 private:
  ArrivalSchedule() = default;
  int64_t constant_offset(int64_t index) const noexcept;
  int64_t interval_offset(int64_t index) const noexcept;
  double poisson_gap_ns(int64_t index) const noexcept;
  double gamma_gap_ns(int64_t index) const noexcept;
  double uniform(int64_t index, uint64_t draw) const noexcept;  // in [0, 1)

  Arrival arrival_ = Arrival::kConstant;
  double period_ns_ = 0.0;                      // constant, Poisson and gamma: 1 / rate
  double shape_ = 1.0;                          // gamma: the burstiness
  uint64_t key_ = 0;                            // Poisson and gamma: the stream for this seed
  std::shared_ptr<const IntervalTrace> trace_;  // intervals
  int64_t share_index_ = 0;                     // intervals: this schedule's requests are
  int64_t share_count_ = 1;                     // the trace's index, index + count, ...
};

// Why a Dispatcher stopped handing out requests.
enum class ScheduleEnd : int8_t { kNone, kDuration, kMaxRequests };

// Hands an open-loop schedule's requests to the workers that are free, in order: the
// first free worker takes the oldest request not yet taken (and sleeps until it is
// due when it is early). Requests that arrive while every worker is busy wait in
// order, the backlog; none is dropped or moved in the schedule. Thread-safe: one
// short critical section per request.
class Dispatcher {
 public:
  struct Request {
    int64_t index;
    int64_t scheduled_ns;  // on the shared clock
  };

  // deadline_ns: requests arriving at or after it are not issued, and none is started
  // after it (INT64_MAX: none). max_requests: issue at most this many (0: no limit).
  Dispatcher(ArrivalSchedule schedule, int64_t start_ns, int64_t deadline_ns, int64_t max_requests,
             int64_t window_ns);

  // The next request for a worker that is free at now_ns, or false once the schedule
  // is over (then end() says why; every later call returns false too).
  bool take(int64_t now_ns, Request& out);
  ScheduleEnd end() const;

  // What the run's schedule did, for the result; called once the workers are done.
  // `stopped_ns`: when the run stopped for another reason (stop(), an error, inputs
  // exhausted), to count the requests that had arrived by then.
  struct Summary {
    ScheduleEnd end = ScheduleEnd::kNone;
    int64_t taken = 0;                    // requests handed to workers
    int64_t due = 0;                      // requests that arrived while the run was issuing
    int64_t backlog_max = 0;              // most requests waiting (arrived, not started) at a take
    int64_t backlog_end = 0;              // requests that arrived but were never started
    int64_t issue_span_ns = 0;            // how long the schedule issued requests
    std::vector<int64_t> window_backlog;  // the largest backlog seen at a take, per window
  };
  Summary finish(int64_t stopped_ns);

  // The backlog is measured at takes of late requests, at most once per
  // kBacklogSampleNs (so its cost per request stays flat at any rate). Poisson: one
  // measurement counts at most kMaxScanPerTake arrivals one by one, finish() at most
  // kMaxScanAtFinish; beyond, the rest is their expected number (only a rate over 16
  // times what the workers serve, or a backlog of millions, gets there).
  static constexpr int64_t kBacklogSampleNs = 10'000;
  static constexpr int64_t kMaxScanPerTake = 16;
  static constexpr int64_t kMaxScanAtFinish = int64_t{1} << 22;

 private:
  // Requests arrived by now_ns that this run issues (see kMaxScanPerTake).
  int64_t due_by(int64_t now_ns, int64_t max_steps);
  void end_at(ScheduleEnd why, int64_t now_ns);

  const ArrivalSchedule schedule_;
  const int64_t start_ns_;
  const int64_t deadline_ns_;
  const int64_t max_requests_;
  const int64_t window_ns_;
  mutable std::mutex mutex_;
  ArrivalSchedule::Cursor next_;  // the next request to hand out
  ArrivalSchedule::Cursor scan_;  // Poisson: the first request not yet arrived
  ScheduleEnd end_ = ScheduleEnd::kNone;
  int64_t end_ns_ = 0;
  int64_t backlog_max_ = 0;
  int64_t next_sample_ns_ = 0;
  int64_t backlog_end_ = 0;
  std::vector<int64_t> window_backlog_;
};

// The saturation rule: the run could not keep up with its schedule. True when more
// requests were left waiting at the end than max(workers, 1% of the requests due),
// and the backlog did not shrink over the last quarter of the run (the backlog at the
// end is at least the largest seen in the window three quarters through its
// `n_windows` windows). A backlog that a stall built up and the run then worked off
// is not saturation; one still growing when the run ends is.
bool saturated(const Dispatcher::Summary& summary, int workers, size_t n_windows);

}  // namespace npn
