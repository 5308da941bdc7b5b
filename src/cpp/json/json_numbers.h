// JSON number literals: scanning (Python's number grammar plus NaN, Infinity and
// -Infinity, which Python's json accepts too) and correctly rounded conversion to
// double. Shared by the streaming parser and the numeric-array prefetcher, so both
// read every literal identically. The hot path is inline; it reads up to
// kNumberPadding bytes past a literal, which callers guarantee are readable.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace npn::json {

// Readable bytes a scan may touch past the end of the data (zeros at the end of
// a buffer stop every scanner).
inline constexpr std::size_t kNumberPadding = 16;

// A scanned literal. A big integer (beyond int64) and a huge float (a finite
// literal beyond double's range: real is +-infinity) keep their text [begin, end).
struct NumberLiteral {
  enum class Kind { kInt, kFloat, kBigInt, kHugeFloat } kind = Kind::kInt;
  int64_t integer = 0;
  double real = 0.0;
  const char* begin = nullptr;
  const char* end = nullptr;
};

// Whether float32 holds x exactly (any NaN counts: JSON has only one).
inline bool is_float32(double x) {
  return static_cast<double>(static_cast<float>(x)) == x || std::isnan(x);
}

inline constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The correctly rounded magnitude of the float literal [begin, end) (sign
// ignored) when the fast paths cannot give it; out of range gives infinity or
// zero, as Python's float() does.
double slow_double(const char* begin, const char* end);

namespace detail {

inline constexpr int64_t kExponentCap = 1'000'000;  // any larger exponent overflows anyway
inline constexpr int kMaxMantissaDigits = 19;       // every 19-digit decimal fits uint64

inline constexpr std::array<double, 23> kPow10Double = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
inline constexpr std::array<long double, 28> kPow10Long = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
// x87 extended precision: a 64-bit significand stored in the low 8 bytes.
inline constexpr bool kLongDoubleIsX87 = std::numeric_limits<long double>::digits == 64;

inline uint64_t load8(const char* s) {
  uint64_t v;
  std::memcpy(&v, s, sizeof v);
  return v;
}

// True when all 8 bytes (little-endian load) are ASCII digits.
inline bool eight_digits(uint64_t v) {
  return ((v & 0xF0F0F0F0F0F0F0F0) | (((v + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) ==
         0x3333333333333333;
}

// The value of 8 ASCII digits (first digit in the lowest byte): pairs, then
// quads, combined with two multiplications.
inline uint64_t eight_digits_value(uint64_t v) {
  v -= 0x3030303030303030;
  v = v * 10 + (v >> 8);  // byte 2k holds the pair 10 * d[2k] + d[2k+1]
  constexpr uint64_t kMask = 0x000000FF000000FF;
  constexpr uint64_t kMul1 = 100 + (1000000ULL << 32);
  constexpr uint64_t kMul2 = 1 + (10000ULL << 32);
  return (((v & kMask) * kMul1) + (((v >> 16) & kMask) * kMul2)) >> 32;
}

// Appends the digits at s to mantissa (exact while digits <= 19; it wraps beyond,
// and callers then ignore it); returns the first non-digit.
[[gnu::always_inline]] inline const char* accumulate_digits(const char* s, uint64_t& mantissa,
                                                            int64_t& digits) {
  while (eight_digits(load8(s))) {
    mantissa = mantissa * 100000000 + eight_digits_value(load8(s));
    digits += 8;
    s += 8;
  }
  for (; is_digit(*s); ++s, ++digits) mantissa = mantissa * 10 + static_cast<uint64_t>(*s - '0');
  return s;
}

// mantissa * 10^exponent when it can be computed exactly rounded without
// big-number arithmetic.
inline bool fast_double(uint64_t mantissa, int64_t digits, int64_t exponent, double& out) {
  if (digits > kMaxMantissaDigits) return false;
  if (mantissa == 0) {
    out = 0.0;
    return true;
  }
  // Clinger's fast path: both operands are exact doubles, so one rounding.
  if (mantissa <= (uint64_t{1} << 53) && exponent >= -22 && exponent <= 22) {
    const auto m = static_cast<double>(mantissa);
    const auto p = kPow10Double[static_cast<size_t>(exponent < 0 ? -exponent : exponent)];
    out = exponent < 0 ? m / p : m * p;
    return true;
  }
  // The same in x87's 64-bit significand (mantissa and 10^27 are exact), then
  // rounded to double: correct unless the first rounding landed exactly
  // halfway between two doubles, where the second could round the wrong way.
  if constexpr (kLongDoubleIsX87) {
    if (exponent >= -27 && exponent <= 27) {
      const auto m = static_cast<long double>(mantissa);
      const auto p = kPow10Long[static_cast<size_t>(exponent < 0 ? -exponent : exponent)];
      const long double x = exponent < 0 ? m / p : m * p;
      uint64_t significand;
      std::memcpy(&significand, &x, sizeof significand);
      if ((significand & 0x7FF) == 0x400) return false;
      out = static_cast<double>(x);
      return true;
    }
  }
  return false;
}

}  // namespace detail

// Scans the literal at s; returns its end, or nullptr when s starts no number.
// It may look up to 3 bytes past the end ("1e+" then a non-digit) and load 8
// bytes at a time within kNumberPadding.
[[gnu::always_inline]] inline const char* scan_number(const char* s, NumberLiteral& out) {
  using namespace detail;
  const char* const begin = s;
  const bool negative = *s == '-';
  if (negative) ++s;
  if (!is_digit(*s)) {
    out.kind = NumberLiteral::Kind::kFloat;
    if (!negative && std::memcmp(s, "NaN", 3) == 0) {
      out.real = std::numeric_limits<double>::quiet_NaN();
      return s + 3;
    }
    if (std::memcmp(s, "Infinity", 8) == 0) {
      out.real = negative ? -HUGE_VAL : HUGE_VAL;
      return s + 8;
    }
    return nullptr;
  }
  uint64_t mantissa = 0;
  int64_t digits = 0;
  s = *s == '0' ? s + 1 : accumulate_digits(s, mantissa, digits);
  int64_t exponent = 0;
  bool is_float = false;
  if (*s == '.' && is_digit(s[1])) {
    is_float = true;
    const char* fraction = s + 1;
    s = accumulate_digits(fraction, mantissa, digits);
    exponent = -(s - fraction);
  }
  if (*s == 'e' || *s == 'E') {
    const char* t = s + 1;
    const bool exponent_negative = *t == '-';
    if (*t == '+' || *t == '-') ++t;
    if (is_digit(*t)) {
      is_float = true;
      int64_t e = 0;
      for (; is_digit(*t); ++t) e = std::min(e * 10 + (*t - '0'), kExponentCap);
      exponent += exponent_negative ? -e : e;
      s = t;
    }
  }
  if (!is_float) {
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (digits <= kMaxMantissaDigits && mantissa <= kMax + (negative ? 1 : 0)) {
      out.kind = NumberLiteral::Kind::kInt;
      // Two's complement negation in unsigned arithmetic, so -2^63 is exact.
      out.integer = static_cast<int64_t>(negative ? 0 - mantissa : mantissa);
    } else {
      out.kind = NumberLiteral::Kind::kBigInt;
      out.begin = begin;
      out.end = s;
    }
    return s;
  }
  out.kind = NumberLiteral::Kind::kFloat;
  if (!fast_double(mantissa, digits, exponent, out.real)) {
    out.real = slow_double(begin, s);  // only this path can overflow
    if (std::isinf(out.real)) {
      out.kind = NumberLiteral::Kind::kHugeFloat;
      out.begin = begin;
      out.end = s;
    }
  }
  if (negative) out.real = -out.real;
  return s;
}

}  // namespace npn::json
