// When a worker issues its next request. The runner's loop is written against this
// interface, so open-loop (request-rate) schedules plug in without changing it.
#pragma once

#include <cstdint>

namespace npn {

// Closed loop (NeuronPerf's behaviour): the next request is issued the moment the
// previous one completes, so an iteration starts where the previous one ended and
// the harness's own bookkeeping is charged to the iteration that follows it.
// One instance per worker; not shared.
class ClosedLoopSchedule {
 public:
  int64_t next_start_ns(int64_t previous_end_ns) const noexcept { return previous_end_ns; }
};

}  // namespace npn
