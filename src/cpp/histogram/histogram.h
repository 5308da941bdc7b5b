// HDR histogram of integer nanosecond values (Gil Tene's HdrHistogram algorithm).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace npn {

// int64 counts whose storage the OS zero-fills on first touch (anonymous mmap for
// large arrays), so the pages of buckets never recorded cost no resident memory: a
// default histogram spans 264 KiB of counts, of which a run touches a few pages.
// Owned by one Histogram; movable, not copyable (Histogram copies what it uses).
class ZeroedCounts {
 public:
  ZeroedCounts() = default;
  explicit ZeroedCounts(size_t size);  // throws std::bad_alloc
  ~ZeroedCounts();
  ZeroedCounts(ZeroedCounts&& other) noexcept;
  ZeroedCounts& operator=(ZeroedCounts&& other) noexcept;
  ZeroedCounts(const ZeroedCounts&) = delete;
  ZeroedCounts& operator=(const ZeroedCounts&) = delete;

  size_t size() const noexcept { return size_; }
  int64_t& operator[](size_t i) noexcept { return data_[i]; }
  int64_t operator[](size_t i) const noexcept { return data_[i]; }
  int64_t* data() noexcept { return data_; }
  const int64_t* data() const noexcept { return data_; }

 private:
  void release() noexcept;
  int64_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

// Not thread-safe: each worker records into its own Histogram and results are
// merged once at the end. Recording is O(1) and never allocates. Queries, merge,
// reset and copies cost O(recorded range), not O(all buckets).
class Histogram {
 public:
  static constexpr int64_t kDefaultLowest = 1;
  static constexpr int64_t kDefaultHighest = 3'600'000'000'000;  // 1 hour in ns
  static constexpr int kDefaultDigits = 3;

  // One non-empty bucket: values in [lowest, highest_equivalent] were counted `count` times.
  struct Bucket {
    int64_t lowest;
    int64_t highest_equivalent;
    int64_t count;
  };

  // Throws InvalidArgument unless 1 <= lowest, 2 * lowest <= highest, 1 <= digits <= 5.
  explicit Histogram(int64_t lowest = kDefaultLowest, int64_t highest = kDefaultHighest,
                     int significant_digits = kDefaultDigits);
  Histogram(const Histogram& other);
  Histogram& operator=(const Histogram& other);
  Histogram(Histogram&& other) noexcept;  // leaves other empty, fit only for assignment
  Histogram& operator=(Histogram&& other) noexcept;

  // Values above highest() are recorded as highest() and negative values as 0;
  // both are counted in saturated_count(), never dropped. A count that would take
  // the total past INT64_MAX is cut to what fits (the total never wraps).
  void record(int64_t value) noexcept { record_n(value, 1); }
  void record_n(int64_t value, int64_t count) noexcept;

  // Adds other's counts. Throws InvalidArgument if the settings differ or if the
  // total count would exceed INT64_MAX (this histogram is then left unchanged).
  void merge(const Histogram& other);
  void reset() noexcept;

  int64_t lowest() const noexcept { return lowest_; }
  int64_t highest() const noexcept { return highest_; }
  int significant_digits() const noexcept { return digits_; }
  bool same_settings(const Histogram& other) const noexcept;

  int64_t count() const noexcept { return total_count_; }
  int64_t saturated_count() const noexcept { return saturated_count_; }
  // min/max are bucket-precise (lowest / highest equivalent value); 0 when empty.
  int64_t min() const noexcept;
  int64_t max() const noexcept;
  double mean() const noexcept;
  double stddev() const noexcept;

  // The lowest bucket such that at least p% of the values are at or below it,
  // reported as that bucket's highest equivalent value (p == 0: the minimum's
  // lowest equivalent value). p is clamped to [0, 100]; 0 when empty.
  int64_t value_at_percentile(double p) const noexcept;

  // Non-empty buckets in increasing value order.
  std::vector<Bucket> buckets() const;

  int64_t lowest_equivalent(int64_t value) const noexcept;
  int64_t highest_equivalent(int64_t value) const noexcept;

  // HdrHistogram V2 encoding, zlib-compressed (cookie 0x1c849304), as raw bytes
  // or base64 text. Both decoders throw DecodeError on malformed input.
  std::string encode() const;
  std::string encode_base64() const;
  static Histogram decode(std::string_view compressed);
  static Histogram decode_base64(std::string_view text);

 private:
  // copy_scalars: every member but counts_; forget_counts: after a move, nothing
  // recorded and no storage.
  void copy_scalars(const Histogram& other) noexcept;
  void forget_counts() noexcept;
  int32_t counts_index(int64_t value) const noexcept;
  // [first, last) counts indices that can be non-zero: empty when nothing was recorded.
  size_t first_used() const noexcept;
  size_t end_used() const noexcept;
  int64_t value_from_index(int32_t index) const noexcept;
  int64_t median_equivalent(int64_t lowest_in_bucket) const noexcept;

  int64_t lowest_;
  int64_t highest_;
  int digits_;
  int32_t unit_magnitude_;
  int32_t sub_bucket_half_count_magnitude_;
  int32_t sub_bucket_count_;
  int32_t sub_bucket_half_count_;
  int64_t sub_bucket_mask_;
  int32_t bucket_count_;
  int64_t total_count_ = 0;
  int64_t saturated_count_ = 0;
  int64_t min_value_;
  int64_t max_value_ = 0;
  ZeroedCounts counts_;
};

// Recording is inlined into callers (the runner's loop records several values per
// iteration): one count-leading-zeros and a few compares, no call.
inline int32_t Histogram::counts_index(int64_t value) const noexcept {
  // value >= 0 here. OR-ing the mask puts every value of the first bucket at
  // the same magnitude, so bucket_index is never negative.
  const uint64_t masked = static_cast<uint64_t>(value | sub_bucket_mask_);
  const int32_t pow2_ceiling = 64 - __builtin_clzll(masked);
  const int32_t bucket_index =
      pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  const int32_t sub_bucket_index = static_cast<int32_t>(value >> (bucket_index + unit_magnitude_));
  return ((bucket_index + 1) << sub_bucket_half_count_magnitude_) +
         (sub_bucket_index - sub_bucket_half_count_);
}

inline void Histogram::record_n(int64_t value, int64_t count) noexcept {
  if (count <= 0) return;
  if (count > INT64_MAX - total_count_) [[unlikely]] {
    count = INT64_MAX - total_count_;
    if (count == 0) return;
  }
  if (value < 0) [[unlikely]] {
    value = 0;
    saturated_count_ += count;
  } else if (value > highest_) [[unlikely]] {
    value = highest_;
    saturated_count_ += count;
  }
  counts_[static_cast<size_t>(counts_index(value))] += count;
  total_count_ += count;
  if (value < min_value_) min_value_ = value;
  if (value > max_value_) max_value_ = value;
}

}  // namespace npn
