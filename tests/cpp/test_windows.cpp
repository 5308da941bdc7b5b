// WindowStore (per-window counts and sparse histograms, bounds) and the runner's live
// windows: what pollers receive equals the final result, window for window.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "engine/runner.h"
#include "engine/windows.h"
#include "models/native_models.h"

using namespace npn;

namespace {

Histogram with_values(std::initializer_list<int64_t> values) {
  Histogram h;
  for (int64_t v : values) h.record(v);
  return h;
}

bool same_buckets(const Histogram& a, const Histogram& b) {
  const auto x = a.buckets();
  const auto y = b.buckets();
  if (x.size() != y.size() || a.count() != b.count()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].lowest != y[i].lowest || x[i].count != y[i].count) return false;
  }
  return true;
}

WindowStore default_store() {
  return WindowStore(Histogram::kDefaultLowest, Histogram::kDefaultHighest,
                     Histogram::kDefaultDigits);
}

}  // namespace

TEST_CASE("sparse histograms merge bucket for bucket") {
  SparseHistogram a = SparseHistogram::of(with_values({5, 100, 100, 7000}));
  a.merge(SparseHistogram::of(with_values({3, 100, 9000, 9000})));
  Histogram rebuilt;
  a.record_into(rebuilt);
  CHECK(same_buckets(rebuilt, with_values({3, 5, 100, 100, 100, 7000, 9000, 9000})));
  CHECK(a.buckets.size() == 5);
}

TEST_CASE("the store sums workers' chunks per window and hands each window out once") {
  WindowStore store = default_store();
  store.add(0, 2, with_values({10, 20}));
  store.add(2, 1, with_values({30}));
  store.add(0, 1, with_values({40}));
  CHECK(store.size() == 3);
  auto first = store.take_closed(2, 1000, 10);
  REQUIRE(first.size() == 2);
  CHECK(first[0].index == 0);
  CHECK(first[0].start_ns == 1000);
  CHECK(first[0].count == 3);
  CHECK(same_buckets(first[0].histogram, with_values({10, 20, 40})));
  CHECK(first[1].index == 1);
  CHECK(first[1].start_ns == 1010);
  CHECK(first[1].count == 0);
  CHECK(first[1].histogram.count() == 0);
  CHECK(store.take_closed(2, 1000, 10).empty());
  auto rest = store.take_closed(5, 1000, 10);  // windows past the last one are empty
  REQUIRE(rest.size() == 3);
  CHECK(rest[0].count == 1);
  CHECK(rest[2].index == 4);
  CHECK(store.counts() == std::vector<int64_t>{3, 0, 1, 0, 0});
  int64_t span = 0;
  auto all = store.histograms(span);
  CHECK(span == 1);
  REQUIRE(all.size() == 5);
  CHECK(same_buckets(all[0], first[0].histogram));
  CHECK(same_buckets(all[2], rest[0].histogram));
}

TEST_CASE("beyond kMaxHistograms windows, stored histograms merge pairwise") {
  WindowStore store = default_store();
  const int64_t n = 3000;  // > 2 * 1024: span 4
  for (int64_t w = 0; w < n; ++w) store.add(w, 1, with_values({1000 + w}));
  int64_t span = 0;
  auto hists = store.histograms(span);
  CHECK(span == 4);
  REQUIRE(hists.size() == static_cast<size_t>((n + 3) / 4));
  CHECK(hists.size() <= WindowStore::kMaxHistograms);
  int64_t total = 0;
  for (size_t j = 0; j < hists.size(); ++j) {
    CHECK(hists[j].count() == std::min<int64_t>(4, n - static_cast<int64_t>(j) * 4));
    total += hists[j].count();
  }
  CHECK(total == n);
  CHECK(hists[1].min() == hists[1].lowest_equivalent(1004));
}

TEST_CASE("metrics share the store's kMaxHistograms: fewer windows before merging pairwise") {
  WindowStore store(Histogram::kDefaultLowest, Histogram::kDefaultHighest,
                    Histogram::kDefaultDigits, 3);
  const auto slots = static_cast<int64_t>(store.max_slots());
  CHECK(slots * 4 == static_cast<int64_t>(WindowStore::kMaxHistograms));
  const int64_t n = 2 * slots + 10;  // span 4
  for (int64_t w = 0; w < n; ++w) {
    std::vector<Histogram> metrics;
    metrics.push_back(with_values({10 + w}));
    metrics.push_back(with_values({20 + w, 30 + w}));
    metrics.emplace_back();
    store.add(w, 1, with_values({1000 + w}), metrics.data());
  }
  const int64_t per_window[] = {1, 1, 2, 0};  // e2e, then the metrics in order
  size_t held = 0;
  for (int metric = -1; metric < 3; ++metric) {
    int64_t span = 0;
    auto hists = store.histograms(span, metric);
    CHECK(span == 4);
    REQUIRE(hists.size() == static_cast<size_t>((n + 3) / 4));
    held += hists.size();
    int64_t total = 0;
    for (size_t j = 0; j < hists.size(); ++j) {
      const int64_t windows = std::min<int64_t>(4, n - static_cast<int64_t>(j) * 4);
      CHECK(hists[j].count() == windows * per_window[metric + 1]);
      total += hists[j].count();
    }
    CHECK(total == n * per_window[metric + 1]);
  }
  CHECK(held <= WindowStore::kMaxHistograms);
  int64_t span = 0;
  CHECK(store.histograms(span, 1)[1].min() == Histogram().lowest_equivalent(24));
  // A poller keeps max_slots() windows too: the newest, with their metrics.
  auto taken = store.take_closed(n, 0, 1);
  REQUIRE(taken.size() == static_cast<size_t>(slots));
  CHECK(taken.front().index == n - slots);
  REQUIRE(taken.back().metrics.size() == 3);
  CHECK(taken.back().metrics[1].count() == 2);
  CHECK(taken.back().metrics[1].min() == Histogram().lowest_equivalent(20 + n - 1));
}

TEST_CASE("a poller that falls behind misses the oldest windows, not the newest") {
  WindowStore store = default_store();
  const auto max = static_cast<int64_t>(WindowStore::kMaxHistograms);
  for (int64_t w = 0; w < max + 10; ++w) store.add(w, 1, with_values({w + 1}));
  auto taken = store.take_closed(max + 10, 0, 1);
  REQUIRE(taken.size() == static_cast<size_t>(max));
  CHECK(taken.front().index == 10);
  CHECK(taken.back().index == max + 9);
  CHECK(taken.back().histogram.count() == 1);
  CHECK(store.counts().size() == static_cast<size_t>(max + 10));  // the result keeps all
}

TEST_CASE("live windows polled during a run equal the final result") {
  SpinSettings spin;
  spin.latency_ns = 20'000;
  RunSettings s;
  s.workers = 3;
  s.duration_s = 0.3;
  s.window_s = 0.01;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<SpinModel>(spin)), s);
  runner.start();
  std::vector<LiveWindow> seen;
  std::atomic<bool> finished{false};
  std::thread poller([&] {
    while (!finished.load()) {
      for (auto& w : runner.poll_windows()) seen.push_back(std::move(w));
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  RunResult r = runner.wait();
  finished.store(true);
  poller.join();
  const size_t polled_during_run = seen.size();
  for (auto& w : runner.poll_windows()) seen.push_back(std::move(w));
  CHECK(runner.poll_windows().empty());
  CHECK(polled_during_run > 0);
  CHECK(runner.live_iterations() == r.iterations());
  REQUIRE(seen.size() == r.windows.size());
  REQUIRE(r.window_histograms.size() == r.windows.size());
  CHECK(r.window_histogram_span == 1);
  int64_t total = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].index == static_cast<int64_t>(i));
    CHECK(seen[i].start_ns == r.start_ns + static_cast<int64_t>(i) * r.window_ns);
    CHECK(seen[i].count == r.windows[i]);
    CHECK(seen[i].histogram.count() == seen[i].count);
    CHECK(same_buckets(seen[i].histogram, r.window_histograms[i]));
    if (seen[i].count > 0) CHECK(seen[i].histogram.min() >= 20'000 * 0.999);
    total += seen[i].count;
  }
  CHECK(total == r.iterations());
  Histogram merged;
  for (const auto& h : r.window_histograms) merged.merge(h);
  CHECK(same_buckets(merged, r.stage(Stage::kE2E)));
}

TEST_CASE("a window closes only after it ended and every worker moved past it") {
  SpinSettings spin;
  spin.latency_ns = 30'000'000;  // 30 ms calls across 10 ms windows
  RunSettings s;
  s.duration_s = 0.2;
  s.window_s = 0.01;
  s.warmup = 0;
  s.record_timestamps = true;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<SpinModel>(spin)), s);
  runner.start();
  std::vector<LiveWindow> seen;
  std::vector<int64_t> seen_at;  // when each window was received
  while (!runner.done()) {
    for (auto& w : runner.poll_windows()) {
      seen_at.push_back(now_ns());
      seen.push_back(std::move(w));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  RunResult r = runner.wait();
  REQUIRE(r.iterations() >= 2);
  for (size_t i = 0; i < seen.size(); ++i) {
    const int64_t window_end = seen[i].start_ns + r.window_ns;
    CHECK(seen_at[i] >= window_end);
    // The one worker moves past a window when an iteration ends beyond it.
    int64_t first_end_beyond = INT64_MAX;
    for (size_t k = 0; k < static_cast<size_t>(r.iterations()); ++k) {
      const int64_t end = r.timestamps[k * kBoundaryCount + kBoundaryCount - 1];
      if (end >= window_end) first_end_beyond = std::min(first_end_beyond, end);
    }
    CHECK(seen_at[i] >= first_end_beyond);
    CHECK(seen[i].count == r.windows[i]);
  }
}
