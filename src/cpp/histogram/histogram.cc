// HdrHistogram bucket geometry, recording and queries (the V2 codec lives in
// histogram_codec.cc).
//
// Layout (Gil Tene's design): the value range is split into power-of-two
// buckets; each bucket holds sub_bucket_count_ linear sub-buckets of which only
// the upper half is stored for every bucket but the first (the lower half
// overlaps the previous bucket). A value's counts index therefore follows from
// its position of highest set bit, i.e. one count-leading-zeros instruction.
#include "histogram/histogram.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "common/errors.h"

namespace npn {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

int32_t floor_log2(uint64_t value) { return 63 - __builtin_clzll(value); }

// Number of power-of-two buckets needed so that highest is trackable.
int32_t bucket_count_for(int64_t highest, int32_t sub_bucket_count, int32_t unit_magnitude) {
  int64_t smallest_untrackable = static_cast<int64_t>(sub_bucket_count) << unit_magnitude;
  int32_t buckets = 1;
  while (smallest_untrackable <= highest) {
    if (smallest_untrackable > kInt64Max / 2) return buckets + 1;
    smallest_untrackable <<= 1;
    ++buckets;
  }
  return buckets;
}

std::string settings_text(const Histogram& h) {
  return "(lowest=" + std::to_string(h.lowest()) + ", highest=" + std::to_string(h.highest()) +
         ", significant_digits=" + std::to_string(h.significant_digits()) + ")";
}

// Below this size calloc is cheaper than a mapping of its own.
constexpr size_t kMapBytes = 64 * 1024;

}  // namespace

ZeroedCounts::ZeroedCounts(size_t size) : size_(size) {
  if (size == 0) return;
  const size_t bytes = size * sizeof(int64_t);
  if (bytes >= kMapBytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<int64_t*>(p);
    mapped_ = true;
  } else {
    data_ = static_cast<int64_t*>(std::calloc(size, sizeof(int64_t)));
    if (data_ == nullptr) throw std::bad_alloc();
  }
}

ZeroedCounts::~ZeroedCounts() { release(); }

ZeroedCounts::ZeroedCounts(ZeroedCounts&& other) noexcept
    : data_(other.data_), size_(other.size_), mapped_(other.mapped_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

ZeroedCounts& ZeroedCounts::operator=(ZeroedCounts&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    mapped_ = other.mapped_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void ZeroedCounts::release() noexcept {
  if (data_ == nullptr) return;
  if (mapped_) {
    munmap(data_, size_ * sizeof(int64_t));
  } else {
    std::free(data_);
  }
  data_ = nullptr;
}

Histogram::Histogram(int64_t lowest, int64_t highest, int significant_digits)
    : lowest_(lowest), highest_(highest), digits_(significant_digits) {
  if (lowest < 1) {
    throw InvalidArgument("lowest must be >= 1, got " + std::to_string(lowest));
  }
  if (highest / 2 < lowest) {
    throw InvalidArgument("highest must be >= 2 * lowest (lowest=" + std::to_string(lowest) +
                          "), got " + std::to_string(highest));
  }
  if (significant_digits < 1 || significant_digits > 5) {
    throw InvalidArgument("significant_digits must be 1..5, got " +
                          std::to_string(significant_digits));
  }
  // Smallest power of two that holds 2 * 10^digits single-unit sub-buckets.
  int64_t largest_single_unit_value = 2;
  for (int i = 0; i < significant_digits; ++i) largest_single_unit_value *= 10;
  const int32_t sub_bucket_count_magnitude =
      floor_log2(static_cast<uint64_t>(largest_single_unit_value - 1)) + 1;

  unit_magnitude_ = floor_log2(static_cast<uint64_t>(lowest));
  sub_bucket_half_count_magnitude_ = sub_bucket_count_magnitude - 1;
  if (unit_magnitude_ + sub_bucket_half_count_magnitude_ > 61) {
    throw InvalidArgument(
        "lowest=" + std::to_string(lowest) +
        " is too large for significant_digits=" + std::to_string(significant_digits) +
        " (lowest * 10^significant_digits must stay below 2^61)");
  }
  sub_bucket_count_ = int32_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = static_cast<int64_t>(sub_bucket_count_ - 1) << unit_magnitude_;
  bucket_count_ = bucket_count_for(highest, sub_bucket_count_, unit_magnitude_);
  min_value_ = kInt64Max;
  counts_ = ZeroedCounts(static_cast<size_t>(bucket_count_ + 1) * sub_bucket_half_count_);
}

// Copies only the recorded range, so the copy touches no more pages than the original.
Histogram::Histogram(const Histogram& other) : counts_(other.counts_.size()) {
  copy_scalars(other);
  const size_t first = other.first_used();
  const size_t end = other.end_used();
  if (end > first) {
    std::memcpy(counts_.data() + first, other.counts_.data() + first,
                (end - first) * sizeof(int64_t));
  }
}

Histogram& Histogram::operator=(const Histogram& other) {
  if (this != &other) *this = Histogram(other);
  return *this;
}

Histogram::Histogram(Histogram&& other) noexcept : counts_(std::move(other.counts_)) {
  copy_scalars(other);
  other.forget_counts();
}

Histogram& Histogram::operator=(Histogram&& other) noexcept {
  if (this == &other) return *this;
  copy_scalars(other);
  counts_ = std::move(other.counts_);
  other.forget_counts();
  return *this;
}

void Histogram::copy_scalars(const Histogram& other) noexcept {
  lowest_ = other.lowest_;
  highest_ = other.highest_;
  digits_ = other.digits_;
  unit_magnitude_ = other.unit_magnitude_;
  sub_bucket_half_count_magnitude_ = other.sub_bucket_half_count_magnitude_;
  sub_bucket_count_ = other.sub_bucket_count_;
  sub_bucket_half_count_ = other.sub_bucket_half_count_;
  sub_bucket_mask_ = other.sub_bucket_mask_;
  bucket_count_ = other.bucket_count_;
  total_count_ = other.total_count_;
  saturated_count_ = other.saturated_count_;
  min_value_ = other.min_value_;
  max_value_ = other.max_value_;
}

void Histogram::forget_counts() noexcept {
  total_count_ = 0;
  saturated_count_ = 0;
  min_value_ = kInt64Max;
  max_value_ = 0;
}

size_t Histogram::first_used() const noexcept {
  return total_count_ == 0 ? 0 : static_cast<size_t>(counts_index(min_value_));
}

size_t Histogram::end_used() const noexcept {
  return total_count_ == 0 ? 0 : static_cast<size_t>(counts_index(max_value_)) + 1;
}

int64_t Histogram::value_from_index(int32_t index) const noexcept {
  int32_t bucket_index = (index >> sub_bucket_half_count_magnitude_) - 1;
  int32_t sub_bucket_index = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket_index < 0) {
    sub_bucket_index -= sub_bucket_half_count_;
    bucket_index = 0;
  }
  return static_cast<int64_t>(sub_bucket_index) << (bucket_index + unit_magnitude_);
}

bool Histogram::same_settings(const Histogram& other) const noexcept {
  return lowest_ == other.lowest_ && highest_ == other.highest_ && digits_ == other.digits_;
}

void Histogram::merge(const Histogram& other) {
  if (!same_settings(other)) {
    throw InvalidArgument("cannot merge histograms with different settings: " +
                          settings_text(*this) + " vs " + settings_text(other));
  }
  // Every bucket count and the saturated count are at most the total, so a total
  // that fits means nothing overflows.
  if (other.total_count_ > kInt64Max - total_count_) {
    throw InvalidArgument("cannot merge histograms: the total count " +
                          std::to_string(total_count_) + " + " +
                          std::to_string(other.total_count_) + " would overflow int64");
  }
  if (other.total_count_ == 0) return;
  const size_t end = other.end_used();
  for (size_t i = other.first_used(); i < end; ++i) {
    if (other.counts_[i] != 0) counts_[i] += other.counts_[i];
  }
  total_count_ += other.total_count_;
  saturated_count_ += other.saturated_count_;
  min_value_ = std::min(min_value_, other.min_value_);
  max_value_ = std::max(max_value_, other.max_value_);
}

void Histogram::reset() noexcept {
  const size_t first = first_used();
  const size_t end = end_used();
  if (end > first) std::memset(counts_.data() + first, 0, (end - first) * sizeof(int64_t));
  total_count_ = 0;
  saturated_count_ = 0;
  min_value_ = kInt64Max;
  max_value_ = 0;
}

int64_t Histogram::lowest_equivalent(int64_t value) const noexcept {
  if (value < 0) value = 0;
  const int32_t pow2_ceiling =
      64 - __builtin_clzll(static_cast<uint64_t>(value | sub_bucket_mask_));
  const int32_t shift = pow2_ceiling - (sub_bucket_half_count_magnitude_ + 1);  // bucket + unit
  return (value >> shift) << shift;
}

int64_t Histogram::highest_equivalent(int64_t value) const noexcept {
  if (value < 0) value = 0;
  const int32_t pow2_ceiling =
      64 - __builtin_clzll(static_cast<uint64_t>(value | sub_bucket_mask_));
  const int32_t shift = pow2_ceiling - (sub_bucket_half_count_magnitude_ + 1);
  // lowest + range size can be exactly 2^63 in the top bucket: add unsigned.
  const uint64_t next_non_equivalent =
      static_cast<uint64_t>((value >> shift) << shift) + (uint64_t{1} << shift);
  return static_cast<int64_t>(next_non_equivalent - 1);
}

int64_t Histogram::min() const noexcept {
  if (total_count_ == 0) return 0;
  return lowest_equivalent(min_value_);
}

int64_t Histogram::max() const noexcept {
  // As HdrHistogram: a histogram whose largest value is 0 reports 0.
  if (max_value_ == 0) return 0;
  return highest_equivalent(max_value_);
}

// Mean and stddev follow HdrHistogram: every value of a bucket counts as the
// bucket's median-equivalent value (lowest equivalent + half the bucket width).
int64_t Histogram::median_equivalent(int64_t lowest_in_bucket) const noexcept {
  return lowest_in_bucket + ((highest_equivalent(lowest_in_bucket) - lowest_in_bucket + 1) >> 1);
}

double Histogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  __extension__ typedef __int128 int128;  // exact: counts * values can exceed 2^63
  int128 total = 0;
  const size_t n = end_used();
  for (size_t i = first_used(); i < n; ++i) {
    const int64_t c = counts_[i];
    if (c == 0) continue;
    const int64_t median = median_equivalent(value_from_index(static_cast<int32_t>(i)));
    total += static_cast<int128>(c) * median;
  }
  return static_cast<double>(total) / static_cast<double>(total_count_);
}

double Histogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double mu = mean();
  double sum_squares = 0.0;
  const size_t n = end_used();
  for (size_t i = first_used(); i < n; ++i) {
    const int64_t c = counts_[i];
    if (c == 0) continue;
    const int64_t median = median_equivalent(value_from_index(static_cast<int32_t>(i)));
    const double dev = static_cast<double>(median) - mu;
    sum_squares += (dev * dev) * static_cast<double>(c);
  }
  return std::sqrt(sum_squares / static_cast<double>(total_count_));
}

int64_t Histogram::value_at_percentile(double p) const noexcept {
  if (total_count_ == 0) return 0;
  if (!(p > 0.0)) p = 0.0;  // also maps NaN to 0
  if (p > 100.0) p = 100.0;
  // Same arithmetic as the hdrhistogram package: (p * total) / 100, rounded.
  const double target = p * static_cast<double>(total_count_) / 100.0 + 0.5;
  // Compared as doubles first: casting a double at or beyond 2^63 would be undefined.
  int64_t count_at_percentile =
      target >= static_cast<double>(total_count_) ? total_count_ : static_cast<int64_t>(target);
  if (count_at_percentile < 1) count_at_percentile = 1;
  if (count_at_percentile > total_count_) count_at_percentile = total_count_;

  int64_t cumulative = 0;
  const size_t n = end_used();
  for (size_t i = first_used(); i < n; ++i) {
    cumulative += counts_[i];
    if (cumulative >= count_at_percentile) {
      const int64_t value = value_from_index(static_cast<int32_t>(i));
      return p > 0.0 ? highest_equivalent(value) : lowest_equivalent(value);
    }
  }
  return 0;  // unreachable while total_count_ matches the counts
}

std::vector<Histogram::Bucket> Histogram::buckets() const {
  std::vector<Bucket> out;
  const size_t n = end_used();
  for (size_t i = first_used(); i < n; ++i) {
    if (counts_[i] == 0) continue;
    const int64_t lo = value_from_index(static_cast<int32_t>(i));
    out.push_back(Bucket{lo, highest_equivalent(lo), counts_[i]});
  }
  return out;
}

}  // namespace npn
