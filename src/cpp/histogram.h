// HDR histogram of integer nanosecond values (Gil Tene's HdrHistogram algorithm).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace npn {

// Not thread-safe: each worker records into its own Histogram and results are
// merged once at the end. Recording is O(1) and never allocates.
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

  // Values above highest() are recorded as highest() and negative values as 0;
  // both are counted in saturated_count(), never dropped.
  void record(int64_t value) noexcept { record_n(value, 1); }
  void record_n(int64_t value, int64_t count) noexcept;

  // Adds other's counts. Throws InvalidArgument if the settings differ.
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
  int32_t counts_index(int64_t value) const noexcept;
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
  std::vector<int64_t> counts_;
};

}  // namespace npn
