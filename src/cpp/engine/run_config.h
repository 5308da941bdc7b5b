// User run settings, validated once into the internal configuration the runner uses.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/interval_trace.h"
#include "engine/pipeline.h"
#include "engine/scheduler.h"
#include "engine/stream.h"

namespace npn {

// Workers a run may have: each is a thread (with a 1 MiB stack).
inline constexpr int kMaxWorkers = 4096;
// The longest time a setting may give (~116 days): keeps nanosecond arithmetic far from
// overflow.
inline constexpr double kMaxSeconds = 1e7;
// Highest open-loop rate: 10 ns between requests.
inline constexpr double kMaxRequestRate = 1e8;
// How much of an open-loop worker's wait for a request is always spun rather than slept
// (beyond its learned wake-up lateness, see WakeupMargin), and the most of one core all
// workers' spinning may take (the margin shrinks at high rates).
inline constexpr double kDefaultSpinWaitUs = 20.0;
inline constexpr double kMaxSpinShare = 0.1;
// The request arrival patterns RunSettings::arrival may name (with request_rate).
inline constexpr std::array<std::string_view, 3> kArrivalNames = {"constant", "poisson", "gamma"};

// What a caller asks for; names and units match the Python keywords.
struct RunSettings {
  int workers = 1;
  std::optional<double> duration_s;       // stop after this long (timed part only)
  std::optional<int64_t> max_iterations;  // stop after this many timed iterations in all
  int64_t warmup = 1;                     // untimed iterations per worker before timing
  double window_s = 1.0;                  // throughput window width
  std::optional<double> call_timeout_s;   // watchdog: an iteration running longer is a timeout
  bool record_timestamps = false;         // keep b0..b6 of every iteration
  int64_t start_at_ns = 0;                // start timing no earlier than this (shared clock)
  // Open loop when request_rate, request_intervals_us or request_trace is given:
  // requests arrive on that schedule from the timing start and at most `workers` are
  // in flight.
  std::optional<double> request_rate;  // requests per second
  std::string arrival = "constant";    // with request_rate: "constant", "poisson" or "gamma"
  uint64_t seed = 0;                   // Poisson and gamma: which arrival stream
  std::optional<std::vector<double>> request_intervals_us;  // gaps between requests, looped
  // Or the same from a file written by IntervalTrace::write, mapped (shared with every
  // process that maps it; nothing is copied).
  std::optional<std::string> request_trace;
  // Replayed intervals: serve the trace's requests share_index, share_index +
  // share_count, ... (the other shares are other processes').
  int64_t share_index = 0;
  int64_t share_count = 1;
  double spin_wait_us = kDefaultSpinWaitUs;  // open loop: spin the end of a wait (capped)
  bool learn_wakeup = true;  // open loop: wake early by each worker's learned lateness
  double burstiness = 1.0;   // gamma: the shape (1: Poisson; < 1: burstier)
  StreamSettings stream;     // streamed responses and their token metrics (a nested group)
};

// Calls visit(name, field) for each field of RunSettings in declaration order: the one
// list of setting names, through which the bindings read a Python RunOptions field for
// field. A field added above must be added here (the Python tests compare the lists).
template <class Settings, class Visit>
void for_each_setting(Settings& s, Visit&& visit) {
  visit("workers", s.workers);
  visit("duration_s", s.duration_s);
  visit("max_iterations", s.max_iterations);
  visit("warmup", s.warmup);
  visit("window_s", s.window_s);
  visit("call_timeout_s", s.call_timeout_s);
  visit("record_timestamps", s.record_timestamps);
  visit("start_at_ns", s.start_at_ns);
  visit("request_rate", s.request_rate);
  visit("arrival", s.arrival);
  visit("seed", s.seed);
  visit("request_intervals_us", s.request_intervals_us);
  visit("request_trace", s.request_trace);
  visit("share_index", s.share_index);
  visit("share_count", s.share_count);
  visit("spin_wait_us", s.spin_wait_us);
  visit("learn_wakeup", s.learn_wakeup);
  visit("burstiness", s.burstiness);
  visit("stream", s.stream);
}

// Validated settings in engine units. Build with make_run_config().
struct RunConfig {
  int workers;
  int64_t duration_ns;     // 0: no duration limit
  int64_t max_iterations;  // 0: no iteration limit
  int64_t warmup;
  int64_t window_ns;
  int64_t call_timeout_ns;  // 0: no watchdog
  bool record_timestamps;
  int64_t start_at_ns;
  std::optional<ArrivalSchedule> schedule;  // set: open loop
  int64_t spin_wait_ns;                     // always spun at the end of a wait
  int64_t spin_cap_ns;                      // the most a wait may spin
  bool learn_wakeup;
  StreamConfig stream;
};

// Throws InvalidArgument naming the setting when a value is out of range, or when
// nothing would ever stop the run (no duration, no max_iterations, endless inputs).
RunConfig make_run_config(const RunSettings& settings, const PipelineTraits& traits);

// Throws InvalidArgument naming the first setting out of range: every check of
// make_run_config but the stop condition, which depends on the pipeline's inputs.
void check_run_settings(const RunSettings& settings);

}  // namespace npn
