// The spin model's latency draws: seeded, and of the requested distribution. No timing
// here (the runner's tests check that a spin lasts its draw): the shape is asserted on
// the draws themselves, with binomial bounds on counts of seeded data.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "models/native_models.h"

using namespace npn;

namespace {

constexpr int64_t kDraws = 100'000;

std::vector<int64_t> draws(const SpinSettings& s, int worker_index = 0, int64_t n = kDraws) {
  SpinDraws d(s, worker_index);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(d.next_ns());
  return out;
}

int64_t count_below(const std::vector<int64_t>& values, double bound) {
  int64_t n = 0;
  for (int64_t v : values) n += static_cast<double>(v) < bound ? 1 : 0;
  return n;
}

// Whether `count` of `n` independent draws is what probability p gives, within five
// standard deviations (a seeded check: a wrong distribution misses by far more).
bool binomial_fits(int64_t count, int64_t n, double p) {
  const double expected = static_cast<double>(n) * p;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1.0 - p));
  return std::fabs(static_cast<double>(count) - expected) <= 5.0 * sd;
}

}  // namespace

TEST_CASE("spin draws repeat for a seed and worker, and differ across them") {
  SpinSettings s;
  s.distribution = SpinDistribution::kUniform;
  s.low_ns = 0;
  s.high_ns = 1'000'000;
  s.seed = 11;
  const auto first = draws(s, 0, 1000);
  CHECK(draws(s, 0, 1000) == first);
  CHECK(draws(s, 1, 1000) != first);
  s.seed = 12;
  CHECK(draws(s, 0, 1000) != first);
}

TEST_CASE("fixed spin draws are the latency") {
  SpinSettings s;
  s.latency_ns = 123'456;
  for (int64_t v : draws(s, 0, 1000)) CHECK(v == 123'456);
}

TEST_CASE("uniform spin draws cover [low_ns, high_ns] evenly") {
  SpinSettings s;
  s.distribution = SpinDistribution::kUniform;
  s.low_ns = 10'000;
  s.high_ns = 50'000;
  const auto values = draws(s);
  int64_t outside = 0;
  for (int64_t v : values) outside += v < s.low_ns || v > s.high_ns ? 1 : 0;
  CHECK(outside == 0);
  for (double quarter : {0.25, 0.5, 0.75}) {
    CHECK(binomial_fits(count_below(values, 10'000 + 40'001 * quarter), kDraws, quarter));
  }
}

TEST_CASE("bimodal spin draws are one of the two latencies, the second at its fraction") {
  SpinSettings s;
  s.distribution = SpinDistribution::kBimodal;
  s.latency_ns = 20'000;
  s.second_latency_ns = 200'000;
  s.second_fraction = 0.1;
  s.seed = 7;
  int64_t first = 0;
  int64_t second = 0;
  for (int64_t v : draws(s)) {
    first += v == 20'000 ? 1 : 0;
    second += v == 200'000 ? 1 : 0;
  }
  CHECK(first + second == kDraws);
  CHECK(binomial_fits(second, kDraws, 0.1));
}

TEST_CASE("lognormal spin draws have the requested median and spread") {
  SpinSettings s;
  s.distribution = SpinDistribution::kLognormal;
  s.latency_ns = 20'000;
  s.sigma = 0.5;
  const auto values = draws(s);
  // ln(draw / median) is normal(0, sigma): one sigma either side holds its middle 68%.
  CHECK(binomial_fits(count_below(values, 20'000), kDraws, 0.5));
  CHECK(binomial_fits(count_below(values, 20'000 * std::exp(0.5)), kDraws, 0.841345));
  CHECK(binomial_fits(count_below(values, 20'000 * std::exp(-0.5)), kDraws, 0.158655));
}
