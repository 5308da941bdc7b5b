// Open-loop schedules (constant, Poisson, replayed intervals), the Dispatcher that
// hands their requests to workers, the saturation rule, and the runner's open loop.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/errors.h"
#include "engine/runner.h"
#include "engine/scheduler.h"
#include "models/native_models.h"

using namespace npn;

namespace {

std::vector<int64_t> first_offsets(const ArrivalSchedule& s, int n) {
  std::vector<int64_t> out;
  ArrivalSchedule::Cursor c = s.first();
  for (int i = 0; i < n; ++i) {
    out.push_back(c.offset_ns);
    s.advance(c);
  }
  return out;
}

// arrived_by(t) must count exactly the offsets <= t, at every t asked in order.
void check_arrived_by_matches(const ArrivalSchedule& s, const std::vector<int64_t>& offsets) {
  ArrivalSchedule::Cursor scan = s.first();
  const int64_t last = offsets.back();
  for (int64_t t = 0; t < last; t += std::max<int64_t>(1, last / 5000)) {
    const auto expected = std::upper_bound(offsets.begin(), offsets.end(), t) - offsets.begin();
    REQUIRE(s.arrived_by(t, scan) == expected);
  }
  for (size_t i = 0; i < offsets.size(); i += 97) {  // exactly at and just before arrivals
    ArrivalSchedule::Cursor fresh = s.first();
    const int64_t at = offsets[i];
    const auto upto = std::upper_bound(offsets.begin(), offsets.end(), at) - offsets.begin();
    CHECK(s.arrived_by(at, fresh) == upto);
    if (at > 0) {
      ArrivalSchedule::Cursor before = s.first();
      const auto below = std::lower_bound(offsets.begin(), offsets.end(), at) - offsets.begin();
      CHECK(s.arrived_by(at - 1, before) == below);
    }
  }
  ArrivalSchedule::Cursor negative;
  CHECK(s.arrived_by(-1, negative) == 0);
}

std::shared_ptr<Pipeline> spin_pipeline(int64_t latency_ns) {
  SpinSettings s;
  s.latency_ns = latency_ns;
  return std::make_shared<NativePipeline>(std::make_shared<SpinModel>(s));
}

}  // namespace

TEST_CASE("a constant schedule is exact: request i arrives at round(i * 1e9 / rate)") {
  for (double rate : {1000.0, 3.0, 7'777.0, 1e8}) {
    const ArrivalSchedule s = ArrivalSchedule::constant(rate);
    const auto offsets = first_offsets(s, 20'000);
    for (size_t i = 0; i < offsets.size(); ++i) {
      REQUIRE(offsets[i] == std::llround(static_cast<double>(i) * 1e9 / rate));
    }
    check_arrived_by_matches(s, offsets);
    CHECK(s.mean_rate_per_s() == doctest::Approx(rate));
  }
}

TEST_CASE("replayed intervals arrive in order and loop, the first one interval in") {
  const std::vector<int64_t> gaps = {1000, 5, 250'000, 40};
  const auto trace = IntervalTrace::of_us({1.0, 0.005, 250.0, 0.04}, "gaps");
  const ArrivalSchedule s = ArrivalSchedule::intervals(trace);
  const auto offsets = first_offsets(s, 1001);
  CHECK(offsets[0] == 1000);  // perf_analyzer sends the first request one interval in
  for (size_t i = 1; i < offsets.size(); ++i) {
    REQUIRE(offsets[i] - offsets[i - 1] == gaps[i % gaps.size()]);
  }
  check_arrived_by_matches(s, offsets);
  CHECK(s.mean_rate_per_s() == doctest::Approx(4 * 1e9 / 251'045.0));
}

TEST_CASE("shares of a trace together replay it, each request once at its time") {
  const auto trace = IntervalTrace::of_us({100'000, 200'000, 500'000}, "gaps");
  const ArrivalSchedule whole = ArrivalSchedule::intervals(trace);
  CHECK(first_offsets(whole, 6) == std::vector<int64_t>{100'000'000, 300'000'000, 800'000'000,
                                                        900'000'000, 1'100'000'000, 1'600'000'000});
  for (int64_t n : {1, 2, 4, 7}) {
    std::vector<int64_t> merged;
    for (int64_t i = 0; i < n; ++i) {
      const ArrivalSchedule share = ArrivalSchedule::intervals(trace, i, n);
      const auto mine = first_offsets(share, 60);
      check_arrived_by_matches(share, mine);
      CHECK(share.mean_rate_per_s() == doctest::Approx(whole.mean_rate_per_s() / n));
      merged.insert(merged.end(), mine.begin(), mine.end());
    }
    std::sort(merged.begin(), merged.end());
    const auto expected = first_offsets(whole, static_cast<int>(60 * n));
    CHECK(merged == expected);
  }
}

TEST_CASE("Poisson gaps are exponential, seeded, and independent across seeds") {
  const double rate = 20'000;
  const ArrivalSchedule s = ArrivalSchedule::poisson(rate, 42);
  const int n = 100'000;
  ArrivalSchedule::Cursor c;
  std::vector<double> gaps;
  double previous = 0;
  for (int i = 0; i < n; ++i) {
    s.advance(c);
    gaps.push_back(c.poisson_offset_ns - previous);
    previous = c.poisson_offset_ns;
  }
  // Kolmogorov-Smirnov distance to Exp(rate); 1.63 / sqrt(n) is the 1% critical value.
  std::sort(gaps.begin(), gaps.end());
  double d = 0;
  for (int i = 0; i < n; ++i) {
    const double cdf = 1 - std::exp(-gaps[static_cast<size_t>(i)] * rate / 1e9);
    d = std::max({d, cdf - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - cdf});
  }
  CHECK(d < 1.63 / std::sqrt(static_cast<double>(n)));
  CHECK(c.offset_ns == std::llround(c.poisson_offset_ns));

  CHECK(first_offsets(s, 500) == first_offsets(ArrivalSchedule::poisson(rate, 42), 500));
  const auto other = first_offsets(ArrivalSchedule::poisson(rate, 43), 500);
  const auto mine = first_offsets(s, 500);
  int same = 0;
  for (size_t i = 1; i < mine.size(); ++i) same += mine[i] == other[i] ? 1 : 0;
  CHECK(same == 0);
  check_arrived_by_matches(s, first_offsets(s, 20'000));
}

TEST_CASE("gamma gaps have the rate's mean and variance mean^2 / burstiness, seeded") {
  const double rate = 10'000;
  const double period = 1e9 / rate;
  for (double shape : {0.25, 0.5, 1.0, 2.0, 4.0}) {
    CAPTURE(shape);
    const ArrivalSchedule s = ArrivalSchedule::gamma(rate, shape, 7);
    const int n = 200'000;
    ArrivalSchedule::Cursor c;
    double previous = 0, sum = 0, sum_sq = 0;
    std::vector<double> gaps;
    for (int i = 0; i < n; ++i) {
      s.advance(c);
      const double gap = c.poisson_offset_ns - previous;
      previous = c.poisson_offset_ns;
      REQUIRE(gap >= 0);
      sum += gap;
      sum_sq += gap * gap;
      gaps.push_back(gap);
    }
    const double mean = sum / n;
    const double variance = sum_sq / n - mean * mean;
    CHECK(mean == doctest::Approx(period).epsilon(0.02));
    CHECK(variance / (mean * mean) == doctest::Approx(1.0 / shape).epsilon(0.06));
    if (shape == 1.0) {  // gamma of shape 1 is exponential: the same KS check as Poisson
      std::sort(gaps.begin(), gaps.end());
      double d = 0;
      for (int i = 0; i < n; ++i) {
        const double cdf = 1 - std::exp(-gaps[static_cast<size_t>(i)] / period);
        d = std::max({d, cdf - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - cdf});
      }
      CHECK(d < 1.63 / std::sqrt(static_cast<double>(n)));
    }
    CHECK(first_offsets(s, 300) == first_offsets(ArrivalSchedule::gamma(rate, shape, 7), 300));
    CHECK(first_offsets(s, 300) != first_offsets(ArrivalSchedule::gamma(rate, shape, 8), 300));
    check_arrived_by_matches(s, first_offsets(s, 5'000));
  }
}

TEST_CASE("the dispatcher hands out requests in order and counts the backlog") {
  const int64_t start = 1'000'000;
  Dispatcher d(ArrivalSchedule::constant(1e6), start, start + 100'000, 0, 10'000);  // 1 us apart
  Dispatcher::Request r{};
  REQUIRE(d.take(start - 5, r));  // early: the worker will wait for it
  CHECK(r.index == 0);
  CHECK(r.scheduled_ns == start);
  REQUIRE(d.take(start + 10'500, r));  // late: requests 2..10 have arrived behind it
  CHECK(r.index == 1);
  CHECK(r.scheduled_ns == start + 1000);
  REQUIRE(d.take(start + 10'600, r));
  CHECK(r.index == 2);
  const auto mid = d.finish(start + 10'600);  // as if stopped at this time
  CHECK(mid.taken == 3);
  CHECK(mid.backlog_max == 9);
  CHECK(mid.backlog_end == 8);  // requests 3..10 arrived by then, never started
  CHECK(mid.due == 11);
  CHECK(mid.issue_span_ns == 10'600);
  REQUIRE(mid.window_backlog.size() == 2);
  CHECK(mid.window_backlog[1] == 9);
}

TEST_CASE("the schedule ends at the deadline and at max_requests") {
  const int64_t start = 5'000;
  {
    Dispatcher d(ArrivalSchedule::constant(1e6), start, start + 3'500, 0, 1'000'000);
    Dispatcher::Request r{};
    int taken = 0;
    while (d.take(start, r)) ++taken;
    CHECK(taken == 4);  // 0, 1000, 2000, 3000 are before the deadline
    CHECK(d.end() == ScheduleEnd::kDuration);
    CHECK_FALSE(d.take(start, r));
    const auto s = d.finish(start + 10'000);
    CHECK(s.backlog_end == 0);
    CHECK(s.issue_span_ns == 3'500);
  }
  {  // a worker free after the deadline starts nothing: the due requests are left
    Dispatcher d(ArrivalSchedule::constant(1e6), start, start + 3'500, 0, 1'000'000);
    Dispatcher::Request r{};
    REQUIRE(d.take(start, r));
    CHECK_FALSE(d.take(start + 3'600, r));
    CHECK(d.finish(start + 3'600).backlog_end == 3);
  }
  {
    Dispatcher d(ArrivalSchedule::constant(1000), start, INT64_MAX, 5, 1'000'000);
    Dispatcher::Request r{};
    int taken = 0;
    while (d.take(start + 1'000'000'000, r)) ++taken;
    CHECK(taken == 5);
    CHECK(d.end() == ScheduleEnd::kMaxRequests);
    const auto s = d.finish(0);
    CHECK(s.backlog_end == 0);
    CHECK(s.due == 5);
    CHECK(s.issue_span_ns == 5'000'000);
  }
}

TEST_CASE("a Poisson backlog of millions is counted in bounded time") {
  const int64_t start = 0;
  Dispatcher d(ArrivalSchedule::poisson(1e8, 9), start, INT64_MAX, 0, 1'000'000'000);
  Dispatcher::Request r{};
  const int64_t t0 = now_ns();
  REQUIRE(d.take(start + 1'000'000'000, r));  // one second late: ~1e8 requests waiting
  const auto s = d.finish(start + 1'000'000'000);
  CHECK(now_ns() - t0 < 5'000'000'000);  // not 1e8 steps: counting is bounded
  CHECK(s.backlog_max == doctest::Approx(1e8).epsilon(0.01));
  CHECK(s.backlog_end == doctest::Approx(1e8).epsilon(0.01));
}

TEST_CASE("concurrent takes hand out every request exactly once, in order per taker") {
  Dispatcher d(ArrivalSchedule::poisson(1e7, 3), now_ns(), INT64_MAX, 40'000, 1'000'000);
  std::mutex mutex;
  std::vector<int64_t> indices;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Dispatcher::Request r{};
      std::vector<int64_t> mine;
      int64_t last_scheduled = -1;
      while (d.take(now_ns(), r)) {
        CHECK(r.scheduled_ns >= last_scheduled);
        last_scheduled = r.scheduled_ns;
        mine.push_back(r.index);
      }
      std::lock_guard<std::mutex> lock(mutex);
      indices.insert(indices.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  std::sort(indices.begin(), indices.end());
  REQUIRE(indices.size() == 40'000);
  for (size_t i = 0; i < indices.size(); ++i) REQUIRE(indices[i] == static_cast<int64_t>(i));
}

TEST_CASE("saturation: a backlog left at the end that did not shrink over the last quarter") {
  Dispatcher::Summary s;
  s.due = 10'000;
  s.backlog_end = 5'000;
  s.window_backlog = {0, 1000, 2000, 3000, 4000, 5000};
  CHECK(saturated(s, 4, 8));
  s.window_backlog = {0, 1000, 2000, 3000, 4000, 5000, 9000};  // shrinking at the end
  CHECK_FALSE(saturated(s, 4, 8));
  s.backlog_end = 90;  // below 1% of the requests due
  s.window_backlog = {};
  CHECK_FALSE(saturated(s, 4, 8));
  s.due = 100;
  s.backlog_end = 3;  // below the number of workers
  CHECK_FALSE(saturated(s, 4, 8));
  s.backlog_end = 5;
  CHECK(saturated(s, 4, 8));
}

TEST_CASE("open loop: requests start at their schedule and latency counts from it") {
  RunSettings s;
  s.workers = 2;
  s.max_iterations = 2000;
  s.request_rate = 200'000;
  s.record_timestamps = true;
  s.window_s = 0.001;
  Runner runner(spin_pipeline(1'000), s);
  RunResult r = runner.run();
  CHECK(r.status == RunStatus::kFinished);
  CHECK(r.stop_reason == StopReason::kMaxIterations);
  CHECK(r.iterations() == 2000);
  REQUIRE(r.open_loop.has_value());
  CHECK(r.open_loop->requests_due == 2000);
  CHECK(r.open_loop->backlog_end == 0);
  CHECK(r.open_loop->request_rate_target == doctest::Approx(200'000));
  CHECK(r.open_loop->achieved_rate == doctest::Approx(200'000));  // 2000 requests in 10 ms
  CHECK(r.stage(Stage::kScheduleLag).count() == 2000);
  CHECK(r.stage(Stage::kE2E).count() == 2000);
  std::vector<int64_t> scheduled;
  for (size_t i = 0; i < 2000; ++i) {
    const int64_t* row = &r.timestamps[i * kBoundaryCount];
    for (int b = 1; b < kBoundaryCount; ++b) REQUIRE(row[b] >= row[b - 1]);
    scheduled.push_back(row[0]);
  }
  std::sort(scheduled.begin(), scheduled.end());
  for (size_t i = 0; i < scheduled.size(); ++i) {
    REQUIRE(scheduled[i] == r.start_ns + std::llround(static_cast<double>(i) * 5'000));
  }
  const Histogram& e2e = r.stage(Stage::kE2E);
  CHECK(e2e.min() >= 1'000 * 0.999);
  int64_t windowed = 0;
  for (int64_t w : r.windows) windowed += w;
  CHECK(windowed == 2000);
}

TEST_CASE("open loop at 10x capacity is saturated, keeps its backlog and ends on time") {
  RunSettings s;
  s.workers = 1;
  s.duration_s = 0.3;
  s.window_s = 0.03;
  s.request_rate = 10'000;  // the model serves at most 1,000/s
  Runner runner(spin_pipeline(1'000'000), s);
  const int64_t t0 = now_ns();
  RunResult r = runner.run();
  const int64_t elapsed = now_ns() - t0;
  CHECK(elapsed < 2'000'000'000);
  REQUIRE(r.open_loop.has_value());
  CHECK(r.open_loop->saturated);
  CHECK(r.open_loop->backlog_end > 0);
  CHECK(r.open_loop->backlog_end == r.open_loop->requests_due - r.iterations());
  CHECK(r.open_loop->backlog_max >= r.open_loop->backlog_end);
  CHECK(r.iterations() <= 301);  // 1 ms per request for 0.3 s, plus one in flight
  // Request k is due at k * 0.1 ms and starts after k spins of at least 1 ms each: the
  // last started waited at least 0.9 ms per request before it (a quiet machine serves
  // about 300, so most of the run; a loaded one serves fewer).
  const Histogram& lag = r.stage(Stage::kScheduleLag);
  CHECK(lag.max() >= 900'000 * (r.iterations() - 1));  // max(): its bucket's highest value
}

TEST_CASE("open-loop settings are validated with the setting named") {
  auto rejects = [](RunSettings s, const char* name) {
    try {
      Runner runner(spin_pipeline(1), s);
      FAIL("accepted invalid ", name);
    } catch (const InvalidArgument& e) {
      CHECK(std::string(e.what()).find(name) != std::string::npos);
    }
  };
  RunSettings s;
  s.max_iterations = 10;
  for (double bad : {0.0, -5.0, std::nan(""), HUGE_VAL, 2e8}) {
    s.request_rate = bad;
    rejects(s, "request_rate");
  }
  s.request_rate = 100;
  s.arrival = "bursty";
  rejects(s, "arrival");
  s.arrival = "constant";
  s.request_intervals_us = std::vector<double>{10.0};
  rejects(s, "not both");
  s.request_rate.reset();
  s.request_intervals_us = std::vector<double>{};
  rejects(s, "request_intervals_us must not be empty");
  s.request_intervals_us = std::vector<double>{10.0, 0.0};
  rejects(s, "request_intervals_us[1]");
  s.request_intervals_us = std::vector<double>{-1.0};
  rejects(s, "request_intervals_us[0]");
  s.request_intervals_us = std::vector<double>{1e30};  // beyond the engine's ~116 days
  rejects(s, "request_intervals_us[0]");
  s.request_intervals_us = std::vector<double>{10.0};
  s.share_index = 2;
  s.share_count = 2;
  rejects(s, "share_index");
  s.share_index = 0;
  s.share_count = 1;
  s.request_trace = "/no/such/trace";
  rejects(s, "not both");
  s.request_intervals_us.reset();
  rejects(s, "cannot read trace /no/such/trace");
  s.request_trace.reset();
  s.share_count = 2;
  rejects(s, "share_count applies to replayed intervals");
  s.share_count = 1;
  s.arrival = "poisson";
  rejects(s, "needs request_rate");
  s.request_rate = 100;
  s.burstiness = 0.5;
  rejects(s, "burstiness");  // only with gamma
  s.arrival = "gamma";
  for (double bad : {0.0, -1.0, std::nan(""), 1e3}) {
    s.burstiness = bad;
    rejects(s, "burstiness");
  }
}

TEST_CASE("an open loop whose last request comes early still runs its whole duration") {
  RunSettings s;
  s.workers = 2;
  s.duration_s = 0.3;
  s.window_s = 0.1;
  s.request_rate = 5;  // requests at 0 and 0.2 s
  Runner runner(spin_pipeline(1'000), s);
  runner.start();
  // While the workers wait the deadline out, pollers see the windows close as time passes.
  clock_sleep_until_ns(now_ns() + 150'000'000);
  const auto early = runner.poll_windows();
  CHECK(early.size() == 1);
  const int64_t t0 = now_ns();
  RunResult r = runner.wait();
  CHECK(now_ns() - t0 > 100'000'000);  // it did not return once the last request was done
  CHECK(r.status == RunStatus::kFinished);
  CHECK(r.stop_reason == StopReason::kDuration);
  CHECK(r.iterations() == 2);
  CHECK(r.end_ns - r.start_ns >= 300'000'000);
  CHECK(r.windows == std::vector<int64_t>{1, 0, 1});
  CHECK(r.window_histograms.size() == 3);
  REQUIRE(r.open_loop.has_value());
  CHECK(r.open_loop->achieved_rate == doctest::Approx(2 / 0.3));
  const auto rest = runner.poll_windows();
  REQUIRE(!rest.empty());
  CHECK(rest.back().index == 2);  // live windows add up to the result's
}

TEST_CASE("a stop while waiting the deadline out ends the run at once") {
  RunSettings s;
  s.duration_s = 30;
  s.request_intervals_us = std::vector<double>{1'000.0, 60e6};  // then nothing for a minute
  Runner runner(spin_pipeline(1'000), s);
  runner.start();
  clock_sleep_until_ns(now_ns() + 50'000'000);
  runner.stop();
  const int64_t t0 = now_ns();
  RunResult r = runner.wait();
  CHECK(now_ns() - t0 < 1'000'000'000);
  CHECK(r.iterations() == 1);
  CHECK(r.end_ns - r.start_ns < 1'000'000'000);
}
