// The runner with native models: every stop condition, errors, the watchdog,
// several workers, windows and timestamps.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/clock.h"
#include "common/errors.h"
#include "engine/runner.h"
#include "models/native_models.h"

using namespace npn;

namespace {

std::shared_ptr<Pipeline> noop_pipeline(int64_t input_count = -1) {
  return std::make_shared<NativePipeline>(std::make_shared<NoopModel>(), input_count);
}

std::shared_ptr<Pipeline> spin_pipeline(int64_t latency_ns) {
  SpinSettings s;
  s.latency_ns = latency_ns;
  return std::make_shared<NativePipeline>(std::make_shared<SpinModel>(s));
}

RunSettings with_iterations(int64_t n, int workers = 1) {
  RunSettings s;
  s.workers = workers;
  s.max_iterations = n;
  return s;
}

// A model that throws on its n-th call (counted over all workers).
class FailingModel final : public NativeModel {
 public:
  explicit FailingModel(int fail_on) : fail_on_(fail_on) {}
  std::string describe() const override { return "failing"; }
  std::unique_ptr<NativeInstance> instantiate(int) const override {
    struct Instance final : NativeInstance {
      const FailingModel* owner;
      explicit Instance(const FailingModel* o) : owner(o) {}
      void infer() override {
        if (owner->calls_.fetch_add(1) + 1 == owner->fail_on_) {
          throw std::runtime_error("model exploded");
        }
      }
    };
    return std::make_unique<Instance>(this);
  }

 private:
  int fail_on_;
  mutable std::atomic<int> calls_{0};
};

// A model whose every third call fails as one request: with reason "r<k>" where k is
// the call number modulo `reasons`, and on warm-up calls too.
class FlakyModel final : public NativeModel {
 public:
  explicit FlakyModel(int reasons) : reasons_(reasons) {}
  std::string describe() const override { return "flaky"; }
  std::unique_ptr<NativeInstance> instantiate(int) const override {
    struct Instance final : NativeInstance {
      const FlakyModel* owner;
      explicit Instance(const FlakyModel* o) : owner(o) {}
      void infer() override {
        const int call = owner->calls_.fetch_add(1) + 1;
        if (call % 3 == 0) throw RequestFailed("r" + std::to_string(call % owner->reasons_));
      }
    };
    return std::make_unique<Instance>(this);
  }

 private:
  int reasons_;
  mutable std::atomic<int> calls_{0};
};

// A model whose call `hang_on` blocks until released (a stuck model).
class HangingModel final : public NativeModel {
 public:
  explicit HangingModel(int hang_on) : hang_on_(hang_on) {}
  std::string describe() const override { return "hanging"; }
  void release() { released_.store(true); }
  bool hung_call_returned() const { return hung_call_returned_.load(); }
  std::unique_ptr<NativeInstance> instantiate(int) const override {
    struct Instance final : NativeInstance {
      const HangingModel* owner;
      explicit Instance(const HangingModel* o) : owner(o) {}
      void infer() override {
        if (owner->calls_.fetch_add(1) + 1 == owner->hang_on_) {
          while (!owner->released_.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          owner->hung_call_returned_.store(true);
        }
      }
    };
    return std::make_unique<Instance>(this);
  }

 private:
  int hang_on_;
  mutable std::atomic<int> calls_{0};
  std::atomic<bool> released_{false};
  mutable std::atomic<bool> hung_call_returned_{false};
};

}  // namespace

TEST_CASE("max_iterations stops after exactly that many timed iterations") {
  for (int workers : {1, 2, 4}) {
    Runner runner(noop_pipeline(), with_iterations(10'000, workers));
    RunResult r = runner.run();
    CHECK(r.status == RunStatus::kFinished);
    CHECK(r.stop_reason == StopReason::kMaxIterations);
    CHECK(r.iterations() == 10'000);
    CHECK(r.worker_iterations.size() == static_cast<size_t>(workers));
    CHECK(r.stage(Stage::kE2E).count() == 10'000);
    CHECK(r.stage(Stage::kInfer).count() == 10'000);
    CHECK(r.stage(Stage::kGilWait).count() == 0);  // native: no lock
    CHECK(r.warmup.count() == workers);
    int64_t windowed = 0;
    for (int64_t w : r.windows) windowed += w;
    CHECK(windowed == 10'000);
    CHECK(r.end_ns >= r.start_ns);
  }
}

TEST_CASE("duration stops the run close to the requested time") {
  RunSettings s;
  s.workers = 2;
  s.duration_s = 0.2;
  s.window_s = 0.05;
  s.record_timestamps = true;
  Runner runner(spin_pipeline(100'000), s);
  RunResult r = runner.run();
  CHECK(r.status == RunStatus::kFinished);
  CHECK(r.stop_reason == StopReason::kDuration);
  const int64_t deadline = r.start_ns + 200'000'000;
  CHECK(r.end_ns >= deadline);
  // Close to the duration, on any machine: each worker overshoots by at most the one
  // iteration it was in (a preempted one may be long; no bound in time is guaranteed).
  size_t row = 0;
  int64_t last_end = 0;
  for (int64_t n : r.worker_iterations) {
    REQUIRE(n > 0);
    for (int64_t i = 0; i < n; ++i, ++row) {
      const int64_t end = r.timestamps[row * kBoundaryCount + kBoundaryCount - 1];
      if (i + 1 < n) CHECK(end < deadline);
      last_end = std::max(last_end, end);
    }
  }
  CHECK(r.end_ns == last_end);
  CHECK(r.windows.size() >= 4);
  CHECK(static_cast<int64_t>(r.windows.size()) <= (r.end_ns - r.start_ns) / 50'000'000 + 1);
  int64_t windowed = 0;
  for (int64_t w : r.windows) windowed += w;
  CHECK(windowed == r.iterations());
}

TEST_CASE("finite native inputs end the run cleanly when exhausted") {
  RunSettings s;
  s.workers = 3;
  s.warmup = 0;
  Runner runner(noop_pipeline(1000), s);
  RunResult r = runner.run();
  CHECK(r.status == RunStatus::kFinished);
  CHECK(r.stop_reason == StopReason::kInputsExhausted);
  CHECK(r.iterations() == 1000);
  CHECK(r.stage(Stage::kInput).count() == 1000);
}

TEST_CASE("warm-up consumes finite inputs and is not timed") {
  RunSettings s;
  s.workers = 2;
  s.warmup = 5;
  Runner runner(noop_pipeline(100), s);
  RunResult r = runner.run();
  CHECK(r.warmup.count() == 10);
  CHECK(r.iterations() == 90);
}

TEST_CASE("a model that throws stops the run with its error and keeps the measurements") {
  RunSettings s = with_iterations(1'000'000, 2);
  s.warmup = 0;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<FailingModel>(500)), s);
  RunResult r = runner.run();
  CHECK(r.status == RunStatus::kError);
  CHECK(r.stop_reason == StopReason::kError);
  REQUIRE(r.error.has_value());
  CHECK(r.error->type == "std::runtime_error");
  CHECK(r.error->message == "model exploded");
  CHECK(r.error->stage == "infer");
  CHECK(r.iterations() >= 499 - 1);  // the other worker may not have finished its last call
  CHECK(r.iterations() < 1'000'000);
  CHECK(r.stage(Stage::kE2E).count() == r.iterations());
}

TEST_CASE("a failed request is counted by reason, never timed, and the run goes on") {
  RunSettings s = with_iterations(300, 2);
  s.warmup = 3;  // warm-up call 3 fails too, and is neither counted nor an error
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<FlakyModel>(2)), s);
  RunResult r = runner.run();
  CHECK(r.status == RunStatus::kFinished);
  CHECK(!r.error.has_value());
  CHECK(r.iterations() + r.requests_failed == 300);
  CHECK(r.requests_failed == 100);  // calls 7..306 of which every third failed
  CHECK(r.stage(Stage::kE2E).count() == r.iterations());
  int64_t by_reason = 0;
  for (const auto& entry : r.failure_reasons) by_reason += entry.second;
  CHECK(by_reason == r.requests_failed);
  CHECK(r.failure_reasons.size() == 2);
}

TEST_CASE("failure reasons beyond 32 are counted together") {
  RunSettings s = with_iterations(600);
  s.warmup = 0;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<FlakyModel>(100)), s);
  RunResult r = runner.run();
  CHECK(r.requests_failed == 200);
  CHECK(r.failure_reasons.size() == 33);
  CHECK(r.failure_reasons.count("other reasons") == 1);
  int64_t by_reason = 0;
  for (const auto& entry : r.failure_reasons) by_reason += entry.second;
  CHECK(by_reason == 200);
}

TEST_CASE("an error during warm-up is reported as a warm-up error") {
  RunSettings s = with_iterations(100);
  s.warmup = 3;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<FailingModel>(2)), s);
  RunResult r = runner.run();
  CHECK(r.status == RunStatus::kError);
  REQUIRE(r.error.has_value());
  CHECK(r.error->stage == "warmup");
  CHECK(r.iterations() == 0);
}

TEST_CASE("the watchdog abandons a stuck call and reports a timeout") {
  auto model = std::make_shared<HangingModel>(50);
  RunSettings s = with_iterations(1'000'000, 2);
  s.warmup = 0;
  // Long enough that the other worker's calls never take as long on a loaded machine
  // (the watchdog would rightly abandon those too).
  s.call_timeout_s = 1.0;
  RunResult r;
  {
    Runner runner(std::make_shared<NativePipeline>(model), s);
    r = runner.run();
    CHECK_FALSE(model->hung_call_returned());  // returned although the call is stuck
  }
  CHECK(r.status == RunStatus::kTimeout);
  CHECK(r.abandoned_workers == 1);
  REQUIRE(r.error.has_value());
  CHECK(r.error->type == "Timeout");
  CHECK(r.error->stage == "infer");
  CHECK(r.iterations() >= 49 - 1);
  model->release();  // let the detached thread exit
  while (!model->hung_call_returned()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST_CASE("stop() from another thread ends the run") {
  RunSettings s;
  s.workers = 2;
  s.duration_s = 60;
  Runner runner(spin_pipeline(10'000), s);
  runner.start();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    runner.stop();
  });
  RunResult r = runner.wait();
  stopper.join();
  CHECK(r.status == RunStatus::kStopped);
  CHECK(r.stop_reason == StopReason::kStopRequested);
  CHECK(r.iterations() > 0);
  CHECK(r.end_ns - r.start_ns < 5'000'000'000);
}

TEST_CASE("a poll that asks to stop ends the run (how Ctrl-C reaches the engine)") {
  RunSettings s;
  s.duration_s = 60;
  Runner runner(noop_pipeline(), s);
  int polls = 0;
  RunResult r = runner.wait([&] { return ++polls >= 3; }, 1'000'000);
  CHECK(r.status == RunStatus::kStopped);
  // wait() goes on polling until every worker has stopped: 3 polls or more.
  CHECK(polls >= 3);
}

namespace {

// Spin latencies from the timestamps of a one-worker run without warm-up, so that
// iteration i spun for draw i of worker 0's seeded sequence.
std::vector<int64_t> spin_latencies(const SpinSettings& spin, int64_t iterations) {
  RunSettings s = with_iterations(iterations);
  s.warmup = 0;
  s.record_timestamps = true;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<SpinModel>(spin)), s);
  RunResult r = runner.run();
  std::vector<int64_t> latencies;
  for (size_t i = 0; i < static_cast<size_t>(r.iterations()); ++i) {
    const int64_t* row = &r.timestamps[i * kBoundaryCount];
    latencies.push_back(row[5] - row[4]);  // the infer stage: the spin itself
  }
  return latencies;
}

}  // namespace

// Correctness, not a performance target (benchmarks/accuracy.py checks the 1% / 2%
// targets on release builds). A spin is never shorter than its draw, whatever the
// load; it ends on time only when nothing preempts it, so the upper bound is asserted
// on the quickest call, which needs one undisturbed call of many, and leaves room for
// sanitizer builds: only a unit or bookkeeping error could miss it.
TEST_CASE("the spin model's latency is measured, never under-reported") {
  for (int64_t latency : {200'000, 2'000'000}) {
    SpinSettings spin;
    spin.latency_ns = latency;
    const auto latencies = spin_latencies(spin, latency < 1'000'000 ? 500 : 50);
    REQUIRE(!latencies.empty());
    for (int64_t l : latencies) CHECK(l >= latency);
    CHECK(*std::min_element(latencies.begin(), latencies.end()) < latency * 1.5);
  }
}

TEST_CASE("each spin lasts at least its seeded draw, and either mode can end on time") {
  SpinSettings spin;
  spin.distribution = SpinDistribution::kBimodal;
  spin.latency_ns = 20'000;
  spin.second_latency_ns = 200'000;
  spin.second_fraction = 0.1;
  spin.seed = 7;
  const auto latencies = spin_latencies(spin, 3000);
  REQUIRE(latencies.size() == 3000);
  SpinDraws draws(spin, 0);
  int64_t quickest[2] = {INT64_MAX, INT64_MAX};  // per mode
  for (int64_t l : latencies) {
    const int64_t drawn = draws.next_ns();
    CHECK(l >= drawn);
    int64_t& q = quickest[drawn == spin.second_latency_ns ? 1 : 0];
    q = std::min(q, l);
  }
  CHECK(quickest[0] < 20'000 * 1.5);
  CHECK(quickest[1] < 200'000 * 1.5);
}

TEST_CASE("spin settings are checked") {
  CHECK_THROWS_AS(parse_spin_distribution("normal"), InvalidArgument);
  SpinSettings bad;
  bad.distribution = SpinDistribution::kUniform;
  bad.low_ns = 10;
  bad.high_ns = 5;
  CHECK_THROWS_AS(SpinModel{bad}, InvalidArgument);
}

TEST_CASE("timestamps hold ordered boundaries for every timed iteration") {
  RunSettings s = with_iterations(500, 2);
  s.record_timestamps = true;
  Runner runner(noop_pipeline(), s);
  RunResult r = runner.run();
  REQUIRE(r.timestamps.size() == 500 * kBoundaryCount);
  for (size_t i = 0; i < 500; ++i) {
    const int64_t* row = &r.timestamps[i * kBoundaryCount];
    for (int b = 1; b < kBoundaryCount; ++b) CHECK(row[b] >= row[b - 1]);
    CHECK(row[0] >= r.start_ns);
    CHECK(row[kBoundaryCount - 1] <= r.end_ns);
  }
}

TEST_CASE("invalid settings are rejected with the setting's name") {
  auto rejects = [](RunSettings s, const char* name) {
    try {
      Runner runner(noop_pipeline(), s);
      FAIL("accepted invalid ", name);
    } catch (const InvalidArgument& e) {
      CHECK(std::string(e.what()).find(name) != std::string::npos);
    }
  };
  RunSettings s = with_iterations(10);
  s.workers = 0;
  rejects(s, "workers");
  s = with_iterations(10);
  s.duration_s = -1.0;
  rejects(s, "duration_s");
  s = with_iterations(10);
  s.window_s = 0.0001;
  rejects(s, "window_s");
  s = with_iterations(10);
  s.call_timeout_s = 0.0;
  rejects(s, "call_timeout_s");
  s = with_iterations(10);
  s.warmup = -2;
  rejects(s, "warmup");
  rejects(RunSettings{}, "stop condition");
}

TEST_CASE("settings are checked on their own, without a pipeline, by the same rules") {
  RunSettings s;  // no stop condition: that needs the pipeline's inputs, so it passes here
  check_run_settings(s);
  s.arrival = "bursty";
  CHECK_THROWS_WITH_AS(check_run_settings(s), doctest::Contains("arrival"), InvalidArgument);
  s = RunSettings{};
  s.workers = kMaxWorkers + 1;
  CHECK_THROWS_WITH_AS(check_run_settings(s), doctest::Contains("workers"), InvalidArgument);
}

TEST_CASE("for_each_setting names every field once, in declaration order") {
  RunSettings s;
  std::vector<std::string> names;
  for_each_setting(s, [&](const char* name, auto&) { names.emplace_back(name); });
  CHECK(names.size() == 19);
  CHECK(names.front() == "workers");
  CHECK(names[12] == "request_trace");
  CHECK(names[15] == "spin_wait_us");
  CHECK(names[16] == "learn_wakeup");
  CHECK(names.back() == "stream");  // the nested group of a streamed run
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  s.workers = 7;
  int seen = 0;
  for_each_setting(s, [&](const char* name, auto& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, int>) {
      if (std::string(name) == "workers") seen = field;
    }
  });
  CHECK(seen == 7);
}

TEST_CASE("start_at_ns delays timing to a shared start time") {
  RunSettings s = with_iterations(100);
  s.start_at_ns = now_ns() + 30'000'000;
  Runner runner(noop_pipeline(), s);
  RunResult r = runner.run();
  // Never before the shared instant; later only when setting up took longer than the
  // lead (a sanitizer build on a loaded machine can), so no equality is asserted.
  CHECK(r.start_ns >= s.start_at_ns);
  CHECK(r.end_ns >= r.start_ns);
}
