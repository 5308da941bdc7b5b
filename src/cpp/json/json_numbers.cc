#include "json/json_numbers.h"

#include <charconv>
#include <system_error>

namespace npn::json {
namespace {

// Whether the literal [begin, end), whose parse fell out of double's range,
// overflowed (true) or underflowed (false): the decimal exponent of its first
// non-zero digit is positive for an overflow.
bool literal_overflows(const char* begin, const char* end) {
  int64_t int_digits = 0;
  int64_t first_nonzero = -1;  // digit index counted from the first integer digit
  int64_t index = 0;
  const char* s = begin;
  bool in_fraction = false;
  for (; s < end && *s != 'e' && *s != 'E'; ++s) {
    if (*s == '.') {
      in_fraction = true;
    } else if (is_digit(*s)) {
      if (!in_fraction) ++int_digits;
      if (*s != '0' && first_nonzero < 0) first_nonzero = index;
      ++index;
    }
  }
  int64_t exponent = 0;
  if (s < end) {
    ++s;
    const bool negative = *s == '-';
    if (*s == '+' || *s == '-') ++s;
    for (; s < end; ++s) exponent = std::min(exponent * 10 + (*s - '0'), detail::kExponentCap);
    if (negative) exponent = -exponent;
  }
  return int_digits - 1 - first_nonzero + exponent > 0;
}

}  // namespace

double slow_double(const char* begin, const char* end) {
  if (*begin == '-') ++begin;
  double value = 0.0;
  const auto result = std::from_chars(begin, end, value);
  if (result.ec == std::errc::result_out_of_range) {
    return literal_overflows(begin, end) ? HUGE_VAL : 0.0;
  }
  return value;
}

}  // namespace npn::json
