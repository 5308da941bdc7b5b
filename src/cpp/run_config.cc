#include "run_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace npn {
namespace {

constexpr double kMaxSeconds = 1e7;  // ~116 days: keeps nanosecond arithmetic far from overflow

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

// The open-loop schedule the settings ask for, or none (closed loop).
std::optional<ArrivalSchedule> make_schedule(const RunSettings& s) {
  if (s.request_rate && s.request_intervals_us) {
    throw InvalidArgument(
        "give request_rate or request_intervals_us, not both (request_intervals_us replays its "
        "own gaps)");
  }
  if (std::find(kArrivalNames.begin(), kArrivalNames.end(), s.arrival) == kArrivalNames.end()) {
    throw InvalidArgument("arrival must be 'constant' or 'poisson', got '" + s.arrival + "'");
  }
  if (s.request_rate) {
    const double rate = *s.request_rate;
    if (!std::isfinite(rate) || !(rate > 0) || rate > kMaxRequestRate) {
      std::ostringstream requirement;
      requirement << "a finite number of requests per second in (0, " << kMaxRequestRate << "]";
      fail("request_rate", requirement.str().c_str(), rate);
    }
    return s.arrival == "poisson" ? ArrivalSchedule::poisson(rate, s.seed)
                                  : ArrivalSchedule::constant(rate);
  }
  if (!s.request_intervals_us) {
    if (s.arrival != "constant") {
      throw InvalidArgument("arrival='" + s.arrival +
                            "' needs request_rate (the rate its arrivals have)");
    }
    return std::nullopt;
  }
  if (s.arrival != "constant") {
    throw InvalidArgument(
        "arrival applies to request_rate; request_intervals_us replays its own "
        "gaps (got arrival='" +
        s.arrival + "')");
  }
  const std::vector<double>& intervals_us = *s.request_intervals_us;
  if (intervals_us.empty()) throw InvalidArgument("request_intervals_us must not be empty");
  std::vector<int64_t> gaps_ns;
  gaps_ns.reserve(intervals_us.size());
  for (size_t i = 0; i < intervals_us.size(); ++i) {
    const double us = intervals_us[i];
    if (!std::isfinite(us) || !(us >= 0.001) || us > kMaxSeconds * 1e6) {
      const std::string name = "request_intervals_us[" + std::to_string(i) + "]";
      std::ostringstream requirement;
      requirement << "a finite number of microseconds in [0.001, " << kMaxSeconds * 1e6 << "]";
      fail(name.c_str(), requirement.str().c_str(), us);
    }
    gaps_ns.push_back(static_cast<int64_t>(std::llround(us * 1e3)));
  }
  return ArrivalSchedule::intervals(std::move(gaps_ns));
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
  // Each request spins at most spin_wait_ns, so spinning costs rate * spin_wait_ns of a
  // core: capped at 10% of one core (at 100k requests/s, 1 us).
  double spin_ns = s.spin_wait_us * 1e3;
  if (c.schedule) spin_ns = std::min(spin_ns, kMaxSpinShare * 1e9 / c.schedule->mean_rate_per_s());
  c.spin_wait_ns = static_cast<int64_t>(std::llround(spin_ns));
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
