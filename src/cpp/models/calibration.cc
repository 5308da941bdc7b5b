#include "models/calibration.h"

#include <random>
#include <vector>

#include "common/clock.h"
#include "common/errors.h"
#include "histogram/histogram.h"

namespace npn {
namespace {

void require_positive(const char* name, int64_t n) {
  if (n < 1) throw InvalidArgument(std::string(name) + " must be >= 1, got " + std::to_string(n));
}

}  // namespace

double clock_read_cost_ns(int64_t reads) {
  require_positive("reads", reads);
  int64_t sink = 0;
  const int64_t start = now_ns();
  for (int64_t i = 0; i < reads; ++i) sink += now_ns();
  const int64_t end = now_ns();
  // Keep the loop from being optimized away.
  if (sink == 42) return -1.0;
  return static_cast<double>(end - start) / static_cast<double>(reads);
}

double histogram_record_cost_ns(int64_t values) {
  require_positive("values", values);
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> spread(1'000, 10'000'000);
  std::vector<int64_t> samples(4096);
  for (auto& v : samples) v = spread(rng);
  Histogram h;
  const int64_t start = now_ns();
  for (int64_t i = 0; i < values; ++i) h.record(samples[static_cast<size_t>(i) & 4095]);
  const int64_t end = now_ns();
  if (h.count() != values) return -1.0;
  return static_cast<double>(end - start) / static_cast<double>(values);
}

}  // namespace npn
