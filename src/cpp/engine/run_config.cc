#include "engine/run_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.h"

namespace npn {
namespace {

template <class T>
void fail(const char* name, const char* requirement, T value) {
  std::ostringstream out;
  out << name << " must be " << requirement << ", got " << value;
  throw InvalidArgument(out.str());
}

int64_t seconds_to_ns(const char* name, double seconds, double min_seconds) {
  if (!std::isfinite(seconds) || seconds < min_seconds || seconds > kMaxSeconds) {
    std::ostringstream requirement;
    requirement << "a finite number of seconds in [" << min_seconds << ", " << kMaxSeconds << "]";
    fail(name, requirement.str().c_str(), seconds);
  }
  return static_cast<int64_t>(std::llround(seconds * 1e9));
}

// A replayed trace's schedule (from request_intervals_us or request_trace), or none.
std::optional<ArrivalSchedule> trace_schedule(const RunSettings& s) {
  if (s.request_intervals_us && s.request_trace) {
    throw InvalidArgument("give request_intervals_us or request_trace, not both");
  }
  if (s.share_count < 1 || s.share_index < 0 || s.share_index >= s.share_count) {
    throw InvalidArgument("share_index must be in [0, share_count) with share_count >= 1, got " +
                          std::to_string(s.share_index) + " of " + std::to_string(s.share_count));
  }
  std::shared_ptr<const IntervalTrace> trace;
  if (s.request_intervals_us) {
    trace = IntervalTrace::of_us(*s.request_intervals_us, "request_intervals_us");
  }
  if (s.request_trace) trace = IntervalTrace::map(*s.request_trace);
  if (!trace) {
    if (s.share_count != 1) throw InvalidArgument("share_count applies to replayed intervals");
    return std::nullopt;
  }
  return ArrivalSchedule::intervals(std::move(trace), s.share_index, s.share_count);
}

// The open-loop schedule the settings ask for, or none (closed loop).
std::optional<ArrivalSchedule> make_schedule(const RunSettings& s) {
  if (std::find(kArrivalNames.begin(), kArrivalNames.end(), s.arrival) == kArrivalNames.end()) {
    throw InvalidArgument("arrival must be 'constant', 'poisson' or 'gamma', got '" + s.arrival +
                          "'");
  }
  if (!std::isfinite(s.burstiness) || !(s.burstiness >= 0.01) || s.burstiness > 100) {
    fail("burstiness", "a finite number in [0.01, 100]", s.burstiness);
  }
  if (s.burstiness != 1.0 && s.arrival != "gamma") {
    fail("burstiness", "1 unless arrival='gamma' (the gamma shape)", s.burstiness);
  }
  std::optional<ArrivalSchedule> replayed = trace_schedule(s);
  if (s.request_rate && replayed) {
    throw InvalidArgument(
        "give request_rate or request_intervals_us, not both (request_intervals_us replays its "
        "own gaps)");
  }
  if (s.request_rate) {
    const double rate = *s.request_rate;
    if (!std::isfinite(rate) || !(rate > 0) || rate > kMaxRequestRate) {
      std::ostringstream requirement;
      requirement << "a finite number of requests per second in (0, " << kMaxRequestRate << "]";
      fail("request_rate", requirement.str().c_str(), rate);
    }
    if (s.arrival == "gamma") return ArrivalSchedule::gamma(rate, s.burstiness, s.seed);
    return s.arrival == "poisson" ? ArrivalSchedule::poisson(rate, s.seed)
                                  : ArrivalSchedule::constant(rate);
  }
  if (s.arrival != "constant") {
    if (!replayed) {
      throw InvalidArgument("arrival='" + s.arrival +
                            "' needs request_rate (the rate its arrivals have)");
    }
    throw InvalidArgument(
        "arrival applies to request_rate; request_intervals_us replays its own "
        "gaps (got arrival='" +
        s.arrival + "')");
  }
  return replayed;
}

// The settings in engine units; InvalidArgument naming the first one out of range.
RunConfig convert(const RunSettings& s) {
  RunConfig c{};
  if (s.workers < 1 || s.workers > kMaxWorkers) {
    fail("workers", ("in [1, " + std::to_string(kMaxWorkers) + "]").c_str(), s.workers);
  }
  c.workers = s.workers;
  if (s.duration_s) {
    if (!(*s.duration_s > 0)) fail("duration_s", "> 0", *s.duration_s);
    c.duration_ns = seconds_to_ns("duration_s", *s.duration_s, 1e-9);
  }
  if (s.max_iterations) {
    if (*s.max_iterations < 1) fail("max_iterations", ">= 1", *s.max_iterations);
    c.max_iterations = *s.max_iterations;
  }
  if (s.warmup < 0) fail("warmup", ">= 0", s.warmup);
  c.warmup = s.warmup;
  c.window_ns = seconds_to_ns("window_s", s.window_s, 0.001);
  if (s.call_timeout_s) {
    if (!(*s.call_timeout_s > 0)) fail("call_timeout_s", "> 0", *s.call_timeout_s);
    c.call_timeout_ns = seconds_to_ns("call_timeout_s", *s.call_timeout_s, 1e-6);
  }
  c.record_timestamps = s.record_timestamps;
  if (s.start_at_ns < 0) fail("start_at_ns", ">= 0", s.start_at_ns);
  c.start_at_ns = s.start_at_ns;
  c.schedule = make_schedule(s);
  if (!(s.spin_wait_us >= 0 && s.spin_wait_us <= 1e6)) {
    fail("spin_wait_us", "in [0, 1e6] microseconds", s.spin_wait_us);
  }
  // Each request spins at most spin_cap_ns, so spinning costs rate * spin_cap_ns of a
  // core: capped at 10% of one core (at 100k requests/s, 1 us).
  double cap_ns = 1e9;  // one second: far beyond any wake-up lateness
  if (c.schedule) cap_ns = std::min(cap_ns, kMaxSpinShare * 1e9 / c.schedule->mean_rate_per_s());
  c.spin_cap_ns = static_cast<int64_t>(std::llround(cap_ns));
  c.spin_wait_ns =
      std::min(c.spin_cap_ns, static_cast<int64_t>(std::llround(s.spin_wait_us * 1e3)));
  c.learn_wakeup = s.learn_wakeup;
  c.stream = make_stream_config(s.stream);
  return c;
}

}  // namespace

void check_run_settings(const RunSettings& settings) { static_cast<void>(convert(settings)); }

RunConfig make_run_config(const RunSettings& s, const PipelineTraits& traits) {
  RunConfig c = convert(s);
  if (c.duration_ns == 0 && c.max_iterations == 0 && !traits.finite_input) {
    throw InvalidArgument(
        "no stop condition: give duration_s or max_iterations (or finite inputs such as an "
        "iterator)");
  }
  return c;
}

}  // namespace npn
