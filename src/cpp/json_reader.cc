// The streaming JSON reader: a recursive-descent parser over a refillable buffer.
//
// The buffer holds the unread bytes [p_, end_) followed by kPadding zero bytes,
// so scanners may look a few bytes ahead (and read eight digits at once)
// without bounds checks: a zero byte at end_ means "refill or end of document".
// A token that may continue past end_ is re-scanned from its start after a
// refill, which keeps the unread bytes and appends the next chunk.
#include "json_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

namespace npn {
namespace {

constexpr size_t kPadding = 16;
// A number literal is scanned whole when this many bytes are buffered.
constexpr ptrdiff_t kNumberLookahead = 32;
// Exponents are clamped here while scanning; any larger one overflows anyway.
constexpr int64_t kExponentCap = 1'000'000;
constexpr int kMaxMantissaDigits = 19;  // every 19-digit decimal fits uint64

constexpr std::array<double, 23> kPow10Double = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr std::array<long double, 28> kPow10Long = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
// x87 extended precision: a 64-bit significand stored in the low 8 bytes.
constexpr bool kLongDoubleIsX87 = std::numeric_limits<long double>::digits == 64;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether float32 holds x exactly (any NaN counts: JSON has only one).
bool is_float32(double x) {
  return static_cast<double>(static_cast<float>(x)) == x || std::isnan(x);
}

// Bytes a string holds as they are: not '"', '\\', a control character or non-ASCII.
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[c] = c != '"' && c != '\\';
  return table;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

uint64_t load8(const char* s) {
  uint64_t v;
  std::memcpy(&v, s, sizeof v);
  return v;
}

// True when all 8 bytes (little-endian load) are ASCII digits.
bool eight_digits(uint64_t v) {
  return ((v & 0xF0F0F0F0F0F0F0F0) | (((v + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) ==
         0x3333333333333333;
}

// The value of 8 ASCII digits (first digit in the lowest byte): pairs, then
// quads, combined with two multiplications.
uint64_t eight_digits_value(uint64_t v) {
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
    for (; s < end; ++s) exponent = std::min(exponent * 10 + (*s - '0'), kExponentCap);
    if (negative) exponent = -exponent;
  }
  return int_digits - 1 - first_nonzero + exponent > 0;
}

// A parsed number literal; a big integer's text is [begin, end) in the buffer
// until the next refill.
struct Number {
  enum class Kind { kInt, kFloat, kBigInt } kind = Kind::kInt;
  int64_t integer = 0;
  double real = 0.0;
  const char* begin = nullptr;
  const char* end = nullptr;
};

JsonValue value_of(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kInt:
      return JsonValue{n.integer};
    case Number::Kind::kFloat:
      return JsonValue{n.real};
    case Number::Kind::kBigInt:
      break;
  }
  return JsonValue{JsonBigInt{std::string(n.begin, n.end)}};
}

std::string compose_message(JsonError::Kind kind, const std::string& message, int64_t line,
                            int64_t column) {
  switch (kind) {
    case JsonError::Kind::kSyntax:
      return message + " at line " + std::to_string(line) + " column " + std::to_string(column);
    case JsonError::Kind::kUtf8:
      return "not valid UTF-8 (" + message + ")";
    case JsonError::Kind::kDepth:
      break;
  }
  return "nested too deeply";
}

// Reads a file with read(2).
class FileSource final : public JsonByteSource {
 public:
  explicit FileSource(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw JsonFileError(errno, path);
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  ~FileSource() override { ::close(fd_); }

  size_t read(char* out, size_t capacity) override {
    for (;;) {
      const ssize_t n = ::read(fd_, out, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) throw JsonFileError(errno, path_);
    }
  }

 private:
  std::string path_;
  int fd_;
};

// Not thread-safe; one Parser reads one document.
class Parser {
 public:
  Parser(JsonByteSource& source, size_t chunk_bytes)
      : source_(source),
        chunk_bytes_(std::max<size_t>(chunk_bytes, 1)),
        buffer_(chunk_bytes_ + kPadding, '\0') {
    p_ = end_ = buffer_.data();
  }

  JsonValue parse_document() {
    ensure(3);
    if (std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) {
      fail("Unexpected UTF-8 BOM (decode using utf-8-sig)");
    }
    JsonValue root = parse_value(0);
    skip_whitespace();
    if (!at_end()) fail("Extra data");
    return root;
  }

 private:
  struct Position {
    int64_t line;
    int64_t column;
  };

  // --- buffer ---

  int64_t offset_of(const char* at) const { return buffer_offset_ + (at - buffer_.data()); }

  // Moves the unread bytes [p_, end_) to the front and reads more after them;
  // false at the end of the document. Pointers into the buffer other than p_
  // and end_ are invalid afterwards.
  bool refill() {
    if (eof_) return false;
    const size_t keep = static_cast<size_t>(end_ - p_);
    buffer_offset_ += p_ - buffer_.data();
    std::memmove(buffer_.data(), p_, keep);
    // A token longer than a chunk (a huge number literal) doubles the buffer,
    // so rescanning it after each refill stays linear overall.
    const size_t capacity = buffer_.size() - kPadding;
    if (capacity - keep < chunk_bytes_) {
      buffer_.resize(std::max(keep + chunk_bytes_, 2 * capacity) + kPadding);
    }
    const size_t room = buffer_.size() - kPadding - keep;
    char* data = buffer_.data();
    const size_t got = std::min(source_.read(data + keep, room), room);
    std::memset(data + keep + got, 0, kPadding);
    p_ = data;
    end_ = data + keep + got;
    if (got == 0) eof_ = true;
    return got != 0;
  }

  // Buffers at least n unread bytes unless the document ends first.
  bool ensure(ptrdiff_t n) {
    while (end_ - p_ < n) {
      if (!refill()) return false;
    }
    return true;
  }

  bool at_end() { return p_ == end_ && !refill(); }

  // --- errors ---

  // Position of a byte on the current line (errors never point at earlier lines).
  Position position_of(const char* at) const {
    return {line_, offset_of(at) - line_start_ - line_extra_bytes_ + 1};
  }

  [[noreturn]] void fail_at(const char* message, Position where) {
    throw JsonError(JsonError::Kind::kSyntax, message, where.line, where.column);
  }

  // A syntax error at `at` (default p_); a non-ASCII byte there that is not
  // valid UTF-8 is reported as that instead, as Python decodes before parsing.
  [[noreturn]] void fail(const char* message, const char* at = nullptr) {
    if (at == nullptr) at = p_;
    const Position where = position_of(at);
    if (at == p_ && static_cast<unsigned char>(*p_) >= 0x80) utf8_length();
    fail_at(message, where);
  }

  [[noreturn]] static void fail_utf8(const char* reason) {
    throw JsonError(JsonError::Kind::kUtf8, reason, 0, 0);
  }

  // Length of the UTF-8 sequence at p_ (lead byte >= 0x80); throws if invalid.
  size_t utf8_length() {
    ensure(4);
    const auto* s = reinterpret_cast<const unsigned char*>(p_);
    const auto available = end_ - p_;
    const unsigned char lead = s[0];
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // no overlong forms
      if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
      fail_utf8("invalid start byte");
    }
    for (size_t i = 1; i < length; ++i) {
      if (static_cast<ptrdiff_t>(i) >= available) fail_utf8("unexpected end of data");
      if (s[i] < low || s[i] > high) fail_utf8("invalid continuation byte");
      low = 0x80;
      high = 0xBF;
    }
    return length;
  }

  // --- whitespace ---

  void skip_whitespace() {
    for (;;) {
      const char c = *p_;
      if (c == ' ' || c == '\t') {
        ++p_;
      } else if (c == '\n' || c == '\r') {
        // "\r\n", "\r" and "\n" each end one line, as in Python's text mode.
        const int64_t next_offset = offset_of(p_) + 1;
        if (!(c == '\n' && offset_of(p_) == cr_end_)) ++line_;
        if (c == '\r') cr_end_ = next_offset;
        line_start_ = next_offset;
        line_extra_bytes_ = 0;
        ++p_;
      } else if (c == '\0' && p_ == end_ && refill()) {
        continue;
      } else {
        return;
      }
    }
  }

  // --- values ---

  JsonValue parse_value(int depth) {
    skip_whitespace();
    switch (*p_) {
      case '{':
        return parse_object(depth + 1);
      case '[':
        return parse_array(depth + 1);
      case '"':
        return JsonValue{parse_string()};
      case 't':
        expect_literal("true");
        return JsonValue{true};
      case 'f':
        expect_literal("false");
        return JsonValue{false};
      case 'n':
        expect_literal("null");
        return JsonValue{nullptr};
      default:
        return value_of(parse_number());
    }
  }

  void expect_literal(const char* word) {
    const auto length = static_cast<ptrdiff_t>(std::strlen(word));
    if (!ensure(length) || std::memcmp(p_, word, static_cast<size_t>(length)) != 0) {
      fail("Expecting value");
    }
    p_ += length;
  }

  static void check_depth(int depth) {
    if (depth > kJsonMaxDepth) throw JsonError(JsonError::Kind::kDepth, "", 0, 0);
  }

  JsonValue parse_object(int depth) {
    check_depth(depth);
    ++p_;
    JsonObject object;
    skip_whitespace();
    if (*p_ == '}') {
      ++p_;
      return JsonValue{std::move(object)};
    }
    for (;;) {
      if (*p_ != '"') fail("Expecting property name enclosed in double quotes");
      object.keys.push_back(parse_string());
      skip_whitespace();
      if (*p_ != ':') fail("Expecting ':' delimiter");
      ++p_;
      object.values.push_back(parse_value(depth));
      skip_whitespace();
      if (*p_ == '}') {
        ++p_;
        return JsonValue{std::move(object)};
      }
      if (*p_ != ',') fail("Expecting ',' delimiter");
      ++p_;
      skip_whitespace();
    }
  }

  // An array of all-integer or all-float literals accumulates in the scratch
  // vector (only the innermost open array can be numeric, so one suffices) and
  // is copied out at the close at its exact size; anything else turns it generic.
  JsonValue parse_array(int depth) {
    check_depth(depth);
    ++p_;
    enum class Mode { kEmpty, kInts, kFloats, kGeneric } mode = Mode::kEmpty;
    JsonArray items;
    skip_whitespace();
    if (*p_ == ']') {
      ++p_;
      return JsonValue{std::move(items)};
    }
    for (;;) {
      skip_whitespace();
      const char c = *p_;
      const bool number = is_digit(c) || c == '-' || c == 'N' || c == 'I';
      if (number && mode != Mode::kGeneric) {
        Number n = parse_number();
        if (mode == Mode::kEmpty && n.kind != Number::Kind::kBigInt) {
          mode = n.kind == Number::Kind::kInt ? Mode::kInts : Mode::kFloats;
        }
        if (mode == Mode::kInts && n.kind == Number::Kind::kInt) {
          int_scratch_.push_back(n.integer);
        } else if (mode == Mode::kFloats && n.kind == Number::Kind::kFloat) {
          float_scratch_.push_back(n.real);
          all_float32_ = all_float32_ && is_float32(n.real);
        } else {
          make_generic(items);
          mode = Mode::kGeneric;
          items.push_back(value_of(n));
        }
      } else {
        if (mode != Mode::kGeneric) {
          make_generic(items);
          mode = Mode::kGeneric;
        }
        items.push_back(parse_value(depth));
      }
      skip_whitespace();
      if (*p_ == ']') break;
      if (*p_ != ',') fail("Expecting ',' delimiter");
      ++p_;
    }
    ++p_;
    if (mode == Mode::kInts) {
      JsonIntArray values(int_scratch_.begin(), int_scratch_.end());
      int_scratch_.clear();
      return JsonValue{std::move(values)};
    }
    if (mode == Mode::kFloats) {
      JsonValue out;
      if (all_float32_) {
        out.data.emplace<JsonFloat32Array>(float_scratch_.begin(), float_scratch_.end());
      } else {
        out.data.emplace<JsonFloatArray>(float_scratch_.begin(), float_scratch_.end());
      }
      float_scratch_.clear();
      all_float32_ = true;
      return out;
    }
    return JsonValue{std::move(items)};
  }

  // Moves the numbers accumulated so far into generic nodes.
  void make_generic(JsonArray& items) {
    items.reserve(int_scratch_.size() + float_scratch_.size() + 1);
    for (int64_t v : int_scratch_) items.emplace_back().data.emplace<int64_t>(v);
    for (double v : float_scratch_) items.emplace_back().data.emplace<double>(v);
    int_scratch_.clear();
    float_scratch_.clear();
    all_float32_ = true;
  }

  // --- numbers ---

  Number parse_number() {
    ensure(kNumberLookahead);
    for (;;) {
      Number n;
      const char* end = scan_number(n);
      // Scanning looks up to 3 bytes past a literal's end ("1e+" then a
      // non-digit): rescan after a refill when those may not have been read yet.
      if (end != nullptr && end_ - end < 4 && !eof_) {
        refill();
        continue;
      }
      if (end == nullptr) fail("Expecting value");
      p_ = end;
      return n;
    }
  }

  // Scans the literal at p_ (Python's number grammar plus NaN, Infinity,
  // -Infinity); returns its end, or nullptr when p_ starts no number.
  const char* scan_number(Number& out) const {
    const char* s = p_;
    const bool negative = *s == '-';
    if (negative) ++s;
    if (!is_digit(*s)) {
      out.kind = Number::Kind::kFloat;
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
        out.kind = Number::Kind::kInt;
        // Two's complement negation in unsigned arithmetic, so -2^63 is exact.
        out.integer = static_cast<int64_t>(negative ? 0 - mantissa : mantissa);
      } else {
        out.kind = Number::Kind::kBigInt;
        out.begin = p_;
        out.end = s;
      }
      return s;
    }
    out.kind = Number::Kind::kFloat;
    if (!fast_double(mantissa, digits, exponent, out.real)) out.real = slow_double(p_, s);
    if (negative) out.real = -out.real;
    return s;
  }

  // mantissa * 10^exponent when it can be computed exactly rounded without
  // big-number arithmetic.
  static bool fast_double(uint64_t mantissa, int64_t digits, int64_t exponent, double& out) {
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

  // Correctly rounded magnitude of the literal [begin, end) (sign ignored);
  // out of range gives infinity or zero, as Python's float() does.
  static double slow_double(const char* begin, const char* end) {
    if (*begin == '-') ++begin;
    double value = 0.0;
    const auto result = std::from_chars(begin, end, value);
    if (result.ec == std::errc::result_out_of_range) {
      return literal_overflows(begin, end) ? HUGE_VAL : 0.0;
    }
    return value;
  }

  // --- strings ---

  std::string parse_string() {
    const Position start = position_of(p_);
    ++p_;
    // The common case: no escapes and the closing quote already buffered.
    const char* s = p_;
    while (kPlain[static_cast<unsigned char>(*s)]) ++s;
    if (*s == '"') {
      std::string out(p_, s);
      p_ = s + 1;
      return out;
    }
    std::string out;
    for (;;) {
      s = p_;
      while (kPlain[static_cast<unsigned char>(*s)]) ++s;
      out.append(p_, s);
      p_ = s;
      const auto c = static_cast<unsigned char>(*s);
      if (c == '"') {
        ++p_;
        out.shrink_to_fit();
        return out;
      }
      if (c == '\\') {
        parse_escape(out, start);
      } else if (c >= 0x80) {
        const size_t length = utf8_length();
        out.append(p_, length);
        p_ += length;
        line_extra_bytes_ += static_cast<int64_t>(length) - 1;
      } else if (c == 0 && p_ == end_) {
        if (!refill()) fail_at("Unterminated string starting", start);
      } else {
        fail("Invalid control character");
      }
    }
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // The 4 hex digits at s, or -1.
  static int32_t hex4(const char* s) {
    int32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_value(s[i]);
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    return value;
  }

  // Decodes the escape at p_ ('\\'). A \u escape of a high surrogate followed by
  // one of a low surrogate is one code point; a lone surrogate is kept.
  void parse_escape(std::string& out, Position start) {
    if (!ensure(2)) fail_at("Unterminated string starting", start);
    const char kind = p_[1];
    char simple = 0;
    switch (kind) {
      case '"':
      case '\\':
      case '/':
        simple = kind;
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'u':
        break;
      default:
        fail("Invalid \\escape");
    }
    if (simple != 0) {
      out.push_back(simple);
      p_ += 2;
      return;
    }
    ensure(12);
    int32_t code = hex4(p_ + 2);
    if (code < 0) fail("Invalid \\uXXXX escape", p_ + 1);
    size_t consumed = 6;
    if (code >= 0xD800 && code <= 0xDBFF && p_[6] == '\\' && p_[7] == 'u') {
      const int32_t low = hex4(p_ + 8);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        consumed = 12;
      }
    }
    append_utf8(out, code);
    p_ += consumed;
  }

  // UTF-8 of a code point; a lone surrogate gets its 3-byte form (surrogatepass).
  static void append_utf8(std::string& out, int32_t code) {
    const auto byte = [&out](int32_t b) { out.push_back(static_cast<char>(b)); };
    if (code < 0x80) {
      byte(code);
    } else if (code < 0x800) {
      byte(0xC0 | (code >> 6));
      byte(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      byte(0xE0 | (code >> 12));
      byte(0x80 | ((code >> 6) & 0x3F));
      byte(0x80 | (code & 0x3F));
    } else {
      byte(0xF0 | (code >> 18));
      byte(0x80 | ((code >> 12) & 0x3F));
      byte(0x80 | ((code >> 6) & 0x3F));
      byte(0x80 | (code & 0x3F));
    }
  }

  JsonByteSource& source_;
  size_t chunk_bytes_;
  std::vector<char> buffer_;
  const char* p_;
  const char* end_;
  bool eof_ = false;
  int64_t buffer_offset_ = 0;     // document offset of buffer_[0]
  int64_t line_ = 1;              // current line, from 1
  int64_t line_start_ = 0;        // document offset where it starts
  int64_t line_extra_bytes_ = 0;  // UTF-8 continuation bytes read on it
  int64_t cr_end_ = -1;           // offset just after the last '\r'
  JsonIntArray int_scratch_;
  JsonFloatArray float_scratch_;
  bool all_float32_ = true;  // every value in float_scratch_ is exactly a float32
};

}  // namespace

JsonError::JsonError(Kind kind, const std::string& message, int64_t line, int64_t column)
    : std::runtime_error(compose_message(kind, message, line, column)),
      kind_(kind),
      line_(line),
      column_(column) {}

JsonFileError::JsonFileError(int errno_value, const std::string& path)
    : std::runtime_error(path + ": " + std::generic_category().message(errno_value)),
      errno_value_(errno_value),
      path_(path) {}

JsonValue parse_json(JsonByteSource& source, size_t chunk_bytes) {
  return Parser(source, chunk_bytes).parse_document();
}

JsonValue read_json_file(const std::string& path) {
  FileSource source(path);
  return parse_json(source);
}

}  // namespace npn
