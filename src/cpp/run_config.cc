#include "run_config.h"

#include <cmath>
#include <sstream>
#include <string>

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

}  // namespace

RunConfig make_run_config(const RunSettings& s, const PipelineTraits& traits) {
  RunConfig c{};
  if (s.workers < 1 || s.workers > 4096) fail("workers", "in [1, 4096]", s.workers);
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
  if (c.duration_ns == 0 && c.max_iterations == 0 && !traits.finite_input) {
    throw InvalidArgument(
        "no stop condition: give duration_s or max_iterations (or finite inputs such as an "
        "iterator)");
  }
  return c;
}

}  // namespace npn
