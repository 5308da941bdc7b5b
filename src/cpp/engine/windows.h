// Per-window completion counts and e2e latency histograms (plus, for streamed runs, one
// histogram per token metric) of one run: filled by the workers as they move past each
// window, read live by pollers, bounded in memory.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "histogram/histogram.h"

namespace npn {

// The non-empty buckets of a histogram, in increasing value order: what a window's
// histogram costs when only a few buckets were touched.
struct SparseHistogram {
  struct Bucket {
    int64_t value;  // the bucket's lowest equivalent value
    int64_t count;
  };
  std::vector<Bucket> buckets;

  static SparseHistogram of(const Histogram& h);
  void merge(const SparseHistogram& other);
  void record_into(Histogram& h) const;
};

// A closed window as a poller receives it.
struct LiveWindow {
  int64_t index;     // the window starts at the run's start_ns + index * window_ns
  int64_t start_ns;  // on the shared clock
  int64_t count;     // completions in the window, all workers
  Histogram histogram;
  std::vector<Histogram> metrics;  // the store's extra histograms (token metrics), in order
};

// Thread-safe: one mutex, taken by each worker once per window it completes work in
// and by pollers; never on a worker's per-iteration path.
//
// Bounds: counts take 8 bytes per window for the whole run (as the result's windows).
// Histograms are kept twice, each bounded to kMaxHistograms sparse histograms, e2e and
// metrics counted together: max_slots() windows' worth (1,024 windows, 256 with the 3
// token metrics), so that a streamed run's result holds as many histograms as a plain one:
// - for the result: once a run has more than max_slots() windows, adjacent stored
//   slots are merged pairwise, so each covers span() windows (a power of two);
// - for pollers: windows not yet taken, one slot each; a poller that falls more than
//   max_slots() windows behind misses the oldest (its next window indices jump; the
//   result still holds them).
// A sparse histogram holds at most one entry per touched bucket (16 bytes each).
class WindowStore {
 public:
  static constexpr size_t kMaxHistograms = 1024;

  // `metrics`: how many histograms each window keeps besides e2e.
  WindowStore(int64_t lowest, int64_t highest, int significant_digits, int metrics = 0);

  // One worker's completions in `window`: their number and e2e histogram, and `metrics`
  // (an array of the store's metric count) when the store keeps metrics.
  void add(int64_t window, int64_t count, const Histogram& latency,
           const Histogram* metrics = nullptr);
  // Windows [first not taken, closed_before), in order, each once over all callers; at
  // most max_slots() per call.
  // Windows past the last one holding completions are reported empty.
  std::vector<LiveWindow> take_closed(int64_t closed_before, int64_t start_ns, int64_t window_ns);
  // Number of windows up to the last one that holds completions or was taken.
  int64_t size() const;
  // Makes the run's windows at least n_windows long (the later ones empty).
  void cover(int64_t n_windows);

  // The whole run: counts per window, and histograms each covering `span` windows.
  std::vector<int64_t> counts() const;
  // metric -1: e2e; 0.. the extra metrics.
  std::vector<Histogram> histograms(int64_t& span, int metric = -1) const;
  int metrics() const noexcept { return metrics_; }
  // Windows (or spans) whose histograms the store keeps: kMaxHistograms in all.
  size_t max_slots() const noexcept { return kMaxHistograms / (1 + static_cast<size_t>(metrics_)); }

 private:
  // A window's (or span's) e2e histogram, then one per metric.
  using Slot = std::vector<SparseHistogram>;
  Histogram empty_histogram() const;
  static void merge(Slot& into, const Slot& other);
  void compact();  // merges stored histograms pairwise; span_ doubles

  const int64_t lowest_;
  const int64_t highest_;
  const int digits_;
  const int metrics_;
  mutable std::mutex mutex_;
  std::vector<int64_t> counts_;
  std::vector<Slot> stored_;  // stored_[j] covers windows [j * span_, (j+1) * span_)
  int64_t span_ = 1;
  std::deque<Slot> pending_;  // windows [next_, next_ + pending_.size()) not yet taken
  int64_t next_ = 0;
};

}  // namespace npn
