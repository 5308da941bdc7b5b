// Who gets the GIL next: the engine's workers and the harness threads around them.
//
// A worker keeps the GIL across iterations and hands it on when another worker waits
// (after its time slice) or at once when a harness thread announced that it waits.
// It never gives the GIL up and takes it straight back while nobody it knows of waits:
// CPython forces a switch to a waiting thread only after a whole switch interval
// without one, and each voluntary release starts that interval again, so such a
// worker would starve every other thread (measured: a 10 ms ticker ran 11 times in
// 6 s beside one worker of a no-op model). Instead it releases the GIL once per
// courtesy interval (several switch intervals), so that a thread that asked CPython
// for a forced switch gets it even when the model runs no bytecode.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>

namespace npn::bindings {

// Process-wide counters, all relaxed atomics: any thread may read or change them.
struct GilArbiter {
  alignas(64) std::atomic<int> workers_waiting{0};    // workers blocked taking the GIL
  alignas(64) std::atomic<uint64_t> acquisitions{0};  // GIL takes by workers
  alignas(64) std::atomic<int> harness_waiting{0};    // harness threads taking the GIL
};

GilArbiter& gil_arbiter() noexcept;

// Marks the calling (harness) thread as waiting for the GIL for its lifetime; workers
// that see it give the GIL up at their next iteration boundary. Scoped to one take.
class HarnessWaiting {
 public:
  HarnessWaiting() noexcept { gil_arbiter().harness_waiting.fetch_add(1); }
  ~HarnessWaiting() { gil_arbiter().harness_waiting.fetch_sub(1); }
  HarnessWaiting(const HarnessWaiting&) = delete;
  HarnessWaiting& operator=(const HarnessWaiting&) = delete;
};

// sys.getswitchinterval() in nanoseconds; call with the GIL held.
int64_t switch_interval_ns();

}  // namespace npn::bindings
