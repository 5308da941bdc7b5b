// Measures the engine's own primitive costs on this machine (for benchmarks/).
#pragma once

#include <cstdint>

namespace npn {

// Mean nanoseconds per now_ns() call over `reads` consecutive calls.
double clock_read_cost_ns(int64_t reads);

// Mean nanoseconds per Histogram::record() of `values` latency-like values
// (a seeded spread over 1 us .. 10 ms, generated before timing).
double histogram_record_cost_ns(int64_t values);

}  // namespace npn
