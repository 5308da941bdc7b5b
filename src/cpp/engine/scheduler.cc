#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace npn {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function: a bijective 64-bit mix with full avalanche.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t clamp_offset(double offset_ns) {
  if (!(offset_ns < static_cast<double>(ArrivalSchedule::kHorizonNs))) {
    return ArrivalSchedule::kHorizonNs;
  }
  return std::llround(offset_ns);
}

}  // namespace

ArrivalSchedule ArrivalSchedule::constant(double rate_per_s) {
  ArrivalSchedule s;
  s.arrival_ = Arrival::kConstant;
  s.period_ns_ = 1e9 / rate_per_s;
  return s;
}

ArrivalSchedule ArrivalSchedule::poisson(double rate_per_s, uint64_t seed) {
  ArrivalSchedule s;
  s.arrival_ = Arrival::kPoisson;
  s.period_ns_ = 1e9 / rate_per_s;
  s.key_ = mix64(seed + kGolden);
  return s;
}

ArrivalSchedule ArrivalSchedule::gamma(double rate_per_s, double burstiness, uint64_t seed) {
  ArrivalSchedule s = poisson(rate_per_s, seed);
  s.arrival_ = Arrival::kGamma;
  s.shape_ = burstiness;
  return s;
}

ArrivalSchedule ArrivalSchedule::intervals(std::shared_ptr<const IntervalTrace> trace,
                                           int64_t share_index, int64_t share_count) {
  ArrivalSchedule s;
  s.arrival_ = Arrival::kIntervals;
  s.trace_ = std::move(trace);
  s.share_index_ = share_index;
  s.share_count_ = share_count;
  return s;
}

double ArrivalSchedule::mean_rate_per_s() const noexcept {
  if (arrival_ == Arrival::kIntervals) {
    return 1e9 * static_cast<double>(trace_->size()) / static_cast<double>(trace_->cycle_ns()) /
           static_cast<double>(share_count_);
  }
  return 1e9 / period_ns_;
}

int64_t ArrivalSchedule::constant_offset(int64_t index) const noexcept {
  return clamp_offset(static_cast<double>(index) * period_ns_);
}

int64_t ArrivalSchedule::interval_offset(int64_t index) const noexcept {
  if (index > (kHorizonNs - share_index_) / share_count_) return kHorizonNs;
  return std::min(trace_->arrival_ns(share_index_ + index * share_count_), kHorizonNs);
}

double ArrivalSchedule::poisson_gap_ns(int64_t index) const noexcept {
  const uint64_t bits = mix64(key_ + static_cast<uint64_t>(index) * kGolden);
  const double u = static_cast<double>(bits >> 11) * 0x1p-53;  // uniform in [0, 1)
  return -std::log1p(-u) * period_ns_;
}

double ArrivalSchedule::uniform(int64_t index, uint64_t draw) const noexcept {
  const uint64_t bits =
      mix64(mix64(key_ + static_cast<uint64_t>(index) * kGolden) + draw * kGolden);
  return static_cast<double>(bits >> 11) * 0x1p-53;
}

// Marsaglia and Tsang's gamma sampler on the uniforms of request `index` (its draws 0,
// 1, 2, ...), scaled to mean period_ns_; a shape below 1 boosts shape + 1 by u^(1/shape).
double ArrivalSchedule::gamma_gap_ns(int64_t index) const noexcept {
  const double shape = shape_ < 1.0 ? shape_ + 1.0 : shape_;
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  uint64_t draw = 0;
  double value = d;  // the mode, should 64 proposals all be rejected (they are not)
  for (int attempt = 0; attempt < 64; ++attempt) {
    const double u1 = 1.0 - uniform(index, draw++);  // (0, 1]
    const double u2 = uniform(index, draw++);
    const double x = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    const double v = std::pow(1.0 + c * x, 3);
    if (v <= 0) continue;
    const double u = 1.0 - uniform(index, draw++);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      value = d * v;
      break;
    }
  }
  if (shape_ < 1.0) value *= std::pow(1.0 - uniform(index, draw), 1.0 / shape_);
  return value / shape_ * period_ns_;
}

ArrivalSchedule::Cursor ArrivalSchedule::first() const noexcept {
  Cursor c;
  if (arrival_ == Arrival::kIntervals) c.offset_ns = interval_offset(0);
  return c;
}

void ArrivalSchedule::advance(Cursor& c) const noexcept {
  switch (arrival_) {
    case Arrival::kConstant:
      c.offset_ns = constant_offset(++c.index);
      return;
    case Arrival::kIntervals:
      c.offset_ns = interval_offset(++c.index);
      return;
    case Arrival::kPoisson:
      c.poisson_offset_ns += poisson_gap_ns(c.index++);
      c.offset_ns = clamp_offset(c.poisson_offset_ns);
      return;
    case Arrival::kGamma:
      c.poisson_offset_ns += gamma_gap_ns(c.index++);
      c.offset_ns = clamp_offset(c.poisson_offset_ns);
      return;
  }
}

int64_t ArrivalSchedule::arrived_by(int64_t t_ns, Cursor& scan, int64_t max_steps) const noexcept {
  if (t_ns < 0) return 0;
  switch (arrival_) {
    case Arrival::kConstant: {
      const double estimate = std::floor(static_cast<double>(t_ns) / period_ns_);
      auto k = static_cast<int64_t>(std::min(estimate, 0x1p62));
      while (constant_offset(k + 1) <= t_ns) ++k;
      while (k > 0 && constant_offset(k) > t_ns) --k;
      return k + 1;
    }
    case Arrival::kIntervals: {
      // The trace's requests arrived by t_ns, then those among them of this share.
      const int64_t arrived = trace_->arrived_by(t_ns);
      return arrived <= share_index_ ? 0 : (arrived - share_index_ - 1) / share_count_ + 1;
    }
    case Arrival::kPoisson:
    case Arrival::kGamma:
      for (int64_t steps = 0; scan.offset_ns <= t_ns && scan.offset_ns < kHorizonNs; ++steps) {
        if (steps == max_steps) break;
        advance(scan);
      }
      return scan.index;
  }
  return 0;
}

Dispatcher::Dispatcher(ArrivalSchedule schedule, int64_t start_ns, int64_t deadline_ns,
                       int64_t max_requests, int64_t window_ns)
    : schedule_(std::move(schedule)),
      start_ns_(start_ns),
      deadline_ns_(deadline_ns),
      max_requests_(max_requests),
      window_ns_(window_ns),
      next_(schedule_.first()),
      scan_(next_) {}

int64_t Dispatcher::due_by(int64_t now_ns, int64_t max_steps) {
  if (scan_.index < next_.index) scan_ = next_;  // requests taken have arrived
  const int64_t t = now_ns - start_ns_;
  int64_t arrived = schedule_.arrived_by(t, scan_, max_steps);
  if (schedule_.random() && scan_.offset_ns <= t) {
    // Counting stopped short: the rest of the requests due by t, in expectation.
    const double rest =
        static_cast<double>(t - scan_.offset_ns) * schedule_.mean_rate_per_s() / 1e9;
    arrived += static_cast<int64_t>(rest) + 1;
  }
  if (max_requests_ > 0) arrived = std::min(arrived, max_requests_);
  return arrived;
}

void Dispatcher::end_at(ScheduleEnd why, int64_t now_ns) {
  end_ = why;
  end_ns_ = now_ns;
  // Requests that arrived before the schedule ended and that no worker started.
  const int64_t until = std::min(now_ns, deadline_ns_ - 1);
  backlog_end_ = std::max<int64_t>(0, due_by(until, kMaxScanAtFinish) - next_.index);
}

bool Dispatcher::take(int64_t now_ns, Request& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (end_ != ScheduleEnd::kNone) return false;
  if (max_requests_ > 0 && next_.index >= max_requests_) {
    end_at(ScheduleEnd::kMaxRequests, now_ns);
    return false;
  }
  const int64_t scheduled = start_ns_ + next_.offset_ns;
  if (scheduled >= deadline_ns_ || now_ns >= deadline_ns_) {
    end_at(ScheduleEnd::kDuration, now_ns);
    return false;
  }
  if (now_ns >= scheduled && now_ns >= next_sample_ns_) {  // late: requests behind it wait
    next_sample_ns_ = now_ns + kBacklogSampleNs;
    const int64_t backlog = due_by(now_ns, kMaxScanPerTake) - (next_.index + 1);
    if (backlog > 0) {
      backlog_max_ = std::max(backlog_max_, backlog);
      const auto window = static_cast<size_t>((now_ns - start_ns_) / window_ns_);
      if (window_backlog_.size() <= window) window_backlog_.resize(window + 1, 0);
      window_backlog_[window] = std::max(window_backlog_[window], backlog);
    }
  }
  out = Request{next_.index, scheduled};
  schedule_.advance(next_);
  return true;
}

ScheduleEnd Dispatcher::end() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return end_;
}

Dispatcher::Summary Dispatcher::finish(int64_t stopped_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (end_ == ScheduleEnd::kNone) {
    end_ns_ = std::max(stopped_ns, start_ns_);
    const int64_t until = std::min(end_ns_, deadline_ns_ - 1);
    backlog_end_ = std::max<int64_t>(0, due_by(until, kMaxScanAtFinish) - next_.index);
  }
  Summary s;
  s.end = end_;
  s.taken = next_.index;
  s.backlog_end = backlog_end_;
  s.due = s.taken + s.backlog_end;
  s.backlog_max = std::max(backlog_max_, backlog_end_);
  switch (end_) {
    case ScheduleEnd::kDuration:
      s.issue_span_ns = deadline_ns_ - start_ns_;
      break;
    case ScheduleEnd::kMaxRequests:
      s.issue_span_ns = next_.offset_ns;  // where the first request not issued would be
      break;
    case ScheduleEnd::kNone:
      s.issue_span_ns = std::min(end_ns_, deadline_ns_) - start_ns_;
      break;
  }
  s.window_backlog = window_backlog_;
  return s;
}

bool saturated(const Dispatcher::Summary& s, int workers, size_t n_windows) {
  const auto bound = std::max<double>(workers, 0.01 * static_cast<double>(s.due));
  if (static_cast<double>(s.backlog_end) <= bound) return false;
  const size_t window = (n_windows * 3) / 4;
  const int64_t then = window < s.window_backlog.size() ? s.window_backlog[window] : 0;
  return s.backlog_end >= then;
}

}  // namespace npn
