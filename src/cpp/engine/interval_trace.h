// A recorded arrival pattern (perf_analyzer's --request-intervals): the gaps between
// requests, held as cumulative offsets so that any request's arrival time is one
// lookup. Read from text natively, written once to a file that model copies map
// read-only, so a trace of millions of gaps costs each copy no copy of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace npn {

// Immutable once built: thread-safe.
class IntervalTrace {
 public:
  // The most intervals a trace may hold (8 bytes each in memory and in its file).
  static constexpr int64_t kMaxIntervals = 100'000'000;
  // The longest line a text trace may have: one number of microseconds.
  static constexpr size_t kMaxLineBytes = 64;
  // Bounds of one interval, in microseconds (the engine's finest gap, and ~116 days).
  static constexpr double kMinIntervalUs = 0.001;
  static constexpr double kMaxIntervalUs = 1e13;
  // Offsets saturate here (~36 years): no run reaches it.
  static constexpr int64_t kHorizonNs = int64_t{1} << 60;

  ~IntervalTrace();
  IntervalTrace(const IntervalTrace&) = delete;
  IntervalTrace& operator=(const IntervalTrace&) = delete;

  // One interval per line in microseconds (blank lines skipped), as perf_analyzer
  // reads them, at most max_intervals of them. Throws InvalidArgument naming the file
  // and line of the first bad one, before reading further.
  static std::shared_ptr<const IntervalTrace> read_text(const std::string& path,
                                                        int64_t max_intervals = kMaxIntervals);
  // From a list of microseconds; an error names `name`[i].
  static std::shared_ptr<const IntervalTrace> of_us(const std::vector<double>& intervals_us,
                                                    const std::string& name);
  // Maps a file written by write(); throws InvalidArgument when it is not one.
  static std::shared_ptr<const IntervalTrace> map(const std::string& path);
  // Writes the trace in the form map() reads (the caller owns the file).
  void write(const std::string& path) const;
  // The same form in memory (pickling), and back.
  std::string to_bytes() const;
  static std::shared_ptr<const IntervalTrace> from_bytes(std::string_view data);

  int64_t size() const noexcept { return count_; }                // intervals in one cycle
  int64_t cycle_ns() const noexcept { return offsets_[count_]; }  // their sum
  int64_t max_interval_ns() const noexcept { return max_interval_ns_; }
  // The size() + 1 cumulative offsets: 0, then the end of each interval.
  const int64_t* offsets() const noexcept { return offsets_; }
  // A digest of the offsets: equal traces have equal digests.
  uint64_t digest() const noexcept { return digest_; }
  // When the request `index` (0-based) of the looped trace arrives, as an offset from
  // the schedule's start: one interval after the start for the first request (as
  // perf_analyzer sends it), the sum of the first index + 1 intervals in general.
  int64_t arrival_ns(int64_t index) const noexcept;
  // The number of requests arriving at offsets <= t_ns.
  int64_t arrived_by(int64_t t_ns) const noexcept;

 private:
  IntervalTrace() = default;
  static std::shared_ptr<const IntervalTrace> of_ns(std::vector<int64_t> offsets_ns,
                                                    int64_t max_interval_ns);
  // Points this trace at the written form in [data, data + bytes); false when it is not one.
  bool adopt(const char* data, size_t bytes) noexcept;

  std::vector<int64_t> owned_;  // what offsets_ points into, unless mapped
  void* mapping_ = nullptr;     // the mapping of a mapped trace
  size_t mapping_bytes_ = 0;
  const int64_t* offsets_ = nullptr;  // count_ + 1 cumulative offsets; offsets_[0] is 0
  int64_t count_ = 0;
  int64_t max_interval_ns_ = 0;
  uint64_t digest_ = 0;
};

}  // namespace npn
