#include "engine/windows.h"

#include <algorithm>
#include <utility>

namespace npn {

SparseHistogram SparseHistogram::of(const Histogram& h) {
  SparseHistogram out;
  const auto buckets = h.buckets();
  out.buckets.reserve(buckets.size());
  for (const auto& b : buckets) out.buckets.push_back(Bucket{b.lowest, b.count});
  return out;
}

void SparseHistogram::merge(const SparseHistogram& other) {
  if (other.buckets.empty()) return;
  if (buckets.empty()) {
    buckets = other.buckets;
    return;
  }
  std::vector<Bucket> merged;
  merged.reserve(buckets.size() + other.buckets.size());
  auto a = buckets.begin();
  auto b = other.buckets.begin();
  while (a != buckets.end() || b != other.buckets.end()) {
    if (b == other.buckets.end() || (a != buckets.end() && a->value < b->value)) {
      merged.push_back(*a++);
    } else if (a == buckets.end() || b->value < a->value) {
      merged.push_back(*b++);
    } else {
      merged.push_back(Bucket{a->value, a->count + b->count});
      ++a;
      ++b;
    }
  }
  buckets = std::move(merged);
}

void SparseHistogram::record_into(Histogram& h) const {
  for (const auto& b : buckets) h.record_n(b.value, b.count);
}

WindowStore::WindowStore(int64_t lowest, int64_t highest, int significant_digits, int metrics)
    : lowest_(lowest), highest_(highest), digits_(significant_digits), metrics_(metrics) {}

Histogram WindowStore::empty_histogram() const { return Histogram(lowest_, highest_, digits_); }

void WindowStore::merge(Slot& into, const Slot& other) {
  if (into.size() < other.size()) into.resize(other.size());
  for (size_t m = 0; m < other.size(); ++m) into[m].merge(other[m]);
}

void WindowStore::add(int64_t window, int64_t count, const Histogram& latency,
                      const Histogram* metrics) {
  Slot sparse(1 + static_cast<size_t>(metrics ? metrics_ : 0));
  sparse[0] = SparseHistogram::of(latency);
  for (size_t m = 1; m < sparse.size(); ++m) sparse[m] = SparseHistogram::of(metrics[m - 1]);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto w = static_cast<size_t>(window);
  if (counts_.size() <= w) counts_.resize(w + 1, 0);
  counts_[w] += count;

  while (static_cast<size_t>(window / span_) >= max_slots()) compact();
  const auto slot = static_cast<size_t>(window / span_);
  if (stored_.size() <= slot) stored_.resize(slot + 1);
  merge(stored_[slot], sparse);

  if (window < next_) return;  // a window a poller already skipped
  auto offset = static_cast<size_t>(window - next_);
  if (offset >= max_slots()) {
    const size_t drop = offset - max_slots() + 1;
    for (size_t i = 0; i < drop && !pending_.empty(); ++i) pending_.pop_front();
    next_ += static_cast<int64_t>(drop);
    offset -= drop;
  }
  if (pending_.size() <= offset) pending_.resize(offset + 1);
  merge(pending_[offset], sparse);
}

void WindowStore::compact() {
  std::vector<Slot> merged((stored_.size() + 1) / 2);
  for (size_t j = 0; j < stored_.size(); ++j) merge(merged[j / 2], stored_[j]);
  stored_ = std::move(merged);
  span_ *= 2;
}

std::vector<LiveWindow> WindowStore::take_closed(int64_t closed_before, int64_t start_ns,
                                                 int64_t window_ns) {
  std::vector<std::pair<int64_t, Slot>> taken;  // (count, histograms)
  int64_t first = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = next_;
    const int64_t n = std::min<int64_t>(closed_before - next_, static_cast<int64_t>(max_slots()));
    for (int64_t i = 0; i < n; ++i) {
      const auto w = static_cast<size_t>(next_);
      const int64_t count = w < counts_.size() ? counts_[w] : 0;
      Slot h;
      if (!pending_.empty()) {
        h = std::move(pending_.front());
        pending_.pop_front();
      }
      taken.emplace_back(count, std::move(h));
      ++next_;
    }
    if (counts_.size() < static_cast<size_t>(next_)) counts_.resize(static_cast<size_t>(next_), 0);
  }
  std::vector<LiveWindow> out;
  out.reserve(taken.size());
  for (size_t i = 0; i < taken.size(); ++i) {
    const int64_t index = first + static_cast<int64_t>(i);
    LiveWindow window{index, start_ns + index * window_ns, taken[i].first, empty_histogram(), {}};
    const Slot& slot = taken[i].second;
    if (!slot.empty()) slot[0].record_into(window.histogram);
    for (int m = 0; m < metrics_; ++m) {
      window.metrics.push_back(empty_histogram());
      const auto k = static_cast<size_t>(m) + 1;
      if (k < slot.size()) slot[k].record_into(window.metrics.back());
    }
    out.push_back(std::move(window));
  }
  return out;
}

int64_t WindowStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(counts_.size());
}

void WindowStore::cover(int64_t n_windows) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (n_windows <= static_cast<int64_t>(counts_.size())) return;
  counts_.resize(static_cast<size_t>(n_windows), 0);
  while (static_cast<size_t>((n_windows - 1) / span_) >= max_slots()) compact();
}

std::vector<int64_t> WindowStore::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

std::vector<Histogram> WindowStore::histograms(int64_t& span, int metric) const {
  std::lock_guard<std::mutex> lock(mutex_);
  span = span_;
  const size_t slots =
      (counts_.size() + static_cast<size_t>(span_) - 1) / static_cast<size_t>(span_);
  std::vector<Histogram> out;
  out.reserve(slots);
  for (size_t j = 0; j < slots; ++j) {
    out.push_back(empty_histogram());
    const auto k = static_cast<size_t>(metric + 1);
    if (j < stored_.size() && k < stored_[j].size()) stored_[j][k].record_into(out.back());
  }
  return out;
}

}  // namespace npn
