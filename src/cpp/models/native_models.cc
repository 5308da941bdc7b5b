#include "models/native_models.h"

#include <cmath>
#include <sstream>

#include "common/clock.h"
#include "common/errors.h"

namespace npn {
namespace {

class NoopInstance final : public NativeInstance {
 public:
  void infer() override {}
};

class SpinInstance final : public NativeInstance {
 public:
  SpinInstance(const SpinSettings& s, int worker_index) : draws_(s, worker_index) {}

  void infer() override {
    const int64_t start = now_ns();
    const int64_t deadline = start + draws_.next_ns();
    while (now_ns() < deadline) {
    }
  }

 private:
  SpinDraws draws_;
};

class StreamSpinInstance final : public NativeInstance {
 public:
  explicit StreamSpinInstance(const StreamSpinSettings& s) : s_(s) {}

  void infer() override {
    const int64_t deadline = now_ns() + s_.first_token_ns + (s_.tokens - 1) * s_.token_ns;
    while (now_ns() < deadline) {
    }
  }

  void infer_stream(StreamSink& sink) override {
    const int64_t start = now_ns();
    int64_t due = start + s_.first_token_ns;
    for (int64_t k = 0; k < s_.tokens; ++k, due += s_.token_ns) {
      int64_t now = now_ns();
      while (now < due) now = now_ns();
      sink.item_at(1, now);
    }
  }

 private:
  StreamSpinSettings s_;
};

void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument(message);
}

class NativeWorker final : public WorkerPipeline {
 public:
  NativeWorker(std::unique_ptr<NativeInstance> instance, int64_t input_count,
               std::atomic<int64_t>* inputs_served)
      : instance_(std::move(instance)), input_count_(input_count), inputs_served_(inputs_served) {}

  bool enter() override { return false; }
  void between_iterations(int64_t) override {}
  void leave() override {}
  bool next_input() override {
    return input_count_ < 0 ||
           inputs_served_->fetch_add(1, std::memory_order_relaxed) < input_count_;
  }
  void preprocess() override {}
  void infer() override { instance_->infer(); }
  void infer_stream(StreamSink& sink) override { instance_->infer_stream(sink); }
  void postprocess() override {}

 private:
  std::unique_ptr<NativeInstance> instance_;
  int64_t input_count_;
  std::atomic<int64_t>* inputs_served_;
};

}  // namespace

std::unique_ptr<NativeInstance> NoopModel::instantiate(int) const {
  return std::make_unique<NoopInstance>();
}

SpinDistribution parse_spin_distribution(const std::string& name) {
  if (name == "fixed") return SpinDistribution::kFixed;
  if (name == "uniform") return SpinDistribution::kUniform;
  if (name == "bimodal") return SpinDistribution::kBimodal;
  if (name == "lognormal") return SpinDistribution::kLognormal;
  throw InvalidArgument("distribution must be one of fixed, uniform, bimodal, lognormal; got '" +
                        name + "'");
}

SpinDraws::SpinDraws(const SpinSettings& settings, int worker_index)
    : s_(settings),
      rng_(settings.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(worker_index)) {}

int64_t SpinDraws::next_ns() {
  switch (s_.distribution) {
    case SpinDistribution::kFixed:
      return s_.latency_ns;
    case SpinDistribution::kUniform:
      return std::uniform_int_distribution<int64_t>(s_.low_ns, s_.high_ns)(rng_);
    case SpinDistribution::kBimodal:
      return unit_(rng_) < s_.second_fraction ? s_.second_latency_ns : s_.latency_ns;
    case SpinDistribution::kLognormal:
      return static_cast<int64_t>(
          std::llround(static_cast<double>(s_.latency_ns) * std::exp(s_.sigma * normal_(rng_))));
  }
  return s_.latency_ns;
}

SpinModel::SpinModel(const SpinSettings& s) : settings_(s) {
  switch (s.distribution) {
    case SpinDistribution::kFixed:
      require(s.latency_ns >= 0, "latency_ns must be >= 0, got " + std::to_string(s.latency_ns));
      break;
    case SpinDistribution::kUniform:
      require(s.low_ns >= 0, "low_ns must be >= 0, got " + std::to_string(s.low_ns));
      require(s.high_ns >= s.low_ns, "high_ns must be >= low_ns (" + std::to_string(s.low_ns) +
                                         "), got " + std::to_string(s.high_ns));
      break;
    case SpinDistribution::kBimodal:
      require(s.latency_ns >= 0, "latency_ns must be >= 0, got " + std::to_string(s.latency_ns));
      require(s.second_latency_ns >= 0,
              "second_latency_ns must be >= 0, got " + std::to_string(s.second_latency_ns));
      require(s.second_fraction >= 0.0 && s.second_fraction <= 1.0,
              "second_fraction must be in [0, 1], got " + std::to_string(s.second_fraction));
      break;
    case SpinDistribution::kLognormal:
      require(s.latency_ns > 0,
              "latency_ns (the median) must be > 0, got " + std::to_string(s.latency_ns));
      require(s.sigma >= 0.0 && s.sigma <= 5.0,
              "sigma must be in [0, 5], got " + std::to_string(s.sigma));
      break;
  }
}

std::string SpinModel::describe() const {
  std::ostringstream out;
  const SpinSettings& s = settings_;
  switch (s.distribution) {
    case SpinDistribution::kFixed:
      out << "spin(fixed, latency_ns=" << s.latency_ns << ")";
      break;
    case SpinDistribution::kUniform:
      out << "spin(uniform, low_ns=" << s.low_ns << ", high_ns=" << s.high_ns << ")";
      break;
    case SpinDistribution::kBimodal:
      out << "spin(bimodal, latency_ns=" << s.latency_ns
          << ", second_latency_ns=" << s.second_latency_ns
          << ", second_fraction=" << s.second_fraction << ")";
      break;
    case SpinDistribution::kLognormal:
      out << "spin(lognormal, latency_ns=" << s.latency_ns << ", sigma=" << s.sigma << ")";
      break;
  }
  return out.str();
}

std::unique_ptr<NativeInstance> SpinModel::instantiate(int worker_index) const {
  return std::make_unique<SpinInstance>(settings_, worker_index);
}

StreamSpinModel::StreamSpinModel(const StreamSpinSettings& s) : settings_(s) {
  require(s.first_token_ns >= 0,
          "first_token_ns must be >= 0, got " + std::to_string(s.first_token_ns));
  require(s.token_ns >= 0, "token_ns must be >= 0, got " + std::to_string(s.token_ns));
  require(s.tokens >= 1, "tokens must be >= 1, got " + std::to_string(s.tokens));
}

std::string StreamSpinModel::describe() const {
  return "stream_spin(first_token_ns=" + std::to_string(settings_.first_token_ns) +
         ", token_ns=" + std::to_string(settings_.token_ns) +
         ", tokens=" + std::to_string(settings_.tokens) + ")";
}

std::unique_ptr<NativeInstance> StreamSpinModel::instantiate(int) const {
  return std::make_unique<StreamSpinInstance>(settings_);
}

NativePipeline::NativePipeline(std::shared_ptr<const NativeModel> model, int64_t input_count)
    : model_(std::move(model)), input_count_(input_count) {
  require(model_ != nullptr, "model must not be null");
}

PipelineTraits NativePipeline::traits() const {
  PipelineTraits t;
  t.finite_input = input_count_ >= 0;
  t.timed_input = input_count_ >= 0;
  return t;
}

std::unique_ptr<WorkerPipeline> NativePipeline::make_worker(int worker_index) {
  return std::make_unique<NativeWorker>(model_->instantiate(worker_index), input_count_,
                                        &inputs_served_);
}

}  // namespace npn
