// Native (C++) models for calibration and tests: they run without the GIL.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "engine/pipeline.h"

namespace npn {

// One worker's instance of a native model. Used by one thread only.
class NativeInstance {
 public:
  virtual ~NativeInstance() = default;
  virtual void infer() = 0;
  // A streamed response (see WorkerPipeline::infer_stream): one item when infer() returns.
  virtual void infer_stream(StreamSink& sink) {
    infer();
    sink.item(1);
  }
};

// A native model description. Thread-safe: instantiate() is called once per worker.
class NativeModel {
 public:
  virtual ~NativeModel() = default;
  virtual std::string describe() const = 0;
  virtual std::unique_ptr<NativeInstance> instantiate(int worker_index) const = 0;
};

// Returns immediately: the floor for harness-overhead measurements.
class NoopModel final : public NativeModel {
 public:
  std::string describe() const override { return "noop"; }
  std::unique_ptr<NativeInstance> instantiate(int worker_index) const override;
};

enum class SpinDistribution { kFixed, kUniform, kBimodal, kLognormal };

// How long each SpinModel call busy-waits.
//   fixed:     latency_ns
//   uniform:   uniform in [low_ns, high_ns]
//   bimodal:   latency_ns, or second_latency_ns with probability second_fraction
//   lognormal: median latency_ns, shape sigma
struct SpinSettings {
  SpinDistribution distribution = SpinDistribution::kFixed;
  int64_t latency_ns = 0;
  int64_t low_ns = 0;
  int64_t high_ns = 0;
  int64_t second_latency_ns = 0;
  double second_fraction = 0.1;
  double sigma = 0.25;
  uint64_t seed = 0;
};

SpinDistribution parse_spin_distribution(const std::string& name);  // throws InvalidArgument

// The seeded latencies one SpinModel worker spins for, in call order: the same
// (settings, worker_index) always gives the same sequence. Used by one thread only.
class SpinDraws {
 public:
  SpinDraws(const SpinSettings& settings, int worker_index);
  int64_t next_ns();

 private:
  SpinSettings s_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::normal_distribution<double> normal_{0.0, 1.0};
};

// Busy-waits (CPU-bound, like a model on a core) for a latency drawn from a
// seeded distribution; each worker draws from its own stream (seed, worker).
class SpinModel final : public NativeModel {
 public:
  explicit SpinModel(const SpinSettings& settings);  // throws InvalidArgument
  const SpinSettings& settings() const { return settings_; }
  std::string describe() const override;
  std::unique_ptr<NativeInstance> instantiate(int worker_index) const override;

 private:
  SpinSettings settings_;
};

// A streamed response on a fixed schedule, for truth tests and cost floors: the first
// token first_token_ns after the call starts, then one every token_ns, `tokens` in all
// (due times from the call's start, so stamping costs do not accumulate). infer()
// without streaming busy-waits the whole response. Zero delays: a no-op stream.
struct StreamSpinSettings {
  int64_t first_token_ns = 0;
  int64_t token_ns = 0;
  int64_t tokens = 1;
};

class StreamSpinModel final : public NativeModel {
 public:
  explicit StreamSpinModel(const StreamSpinSettings& settings);  // throws InvalidArgument
  std::string describe() const override;
  std::unique_ptr<NativeInstance> instantiate(int worker_index) const override;

 private:
  StreamSpinSettings settings_;
};

// Runs a native model on a native input source: `input_count` inputs in all
// (shared by the workers, then exhausted), or unlimited when negative.
class NativePipeline final : public Pipeline {
 public:
  explicit NativePipeline(std::shared_ptr<const NativeModel> model, int64_t input_count = -1);
  PipelineTraits traits() const override;
  std::unique_ptr<WorkerPipeline> make_worker(int worker_index) override;

 private:
  std::shared_ptr<const NativeModel> model_;
  int64_t input_count_;
  std::atomic<int64_t> inputs_served_{0};
};

}  // namespace npn
