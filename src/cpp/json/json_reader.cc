// The streaming JSON reader: a recursive-descent parser over a refillable buffer.
//
// The buffer holds the unread bytes [p_, end_) followed by kPadding zero bytes,
// so scanners may look a few bytes ahead (and read eight digits at once)
// without bounds checks: a zero byte at end_ means "refill or end of document".
// A token that may continue past end_ is re-scanned from its start after a
// refill, which keeps the unread bytes and appends the next chunk.
#include "json/json_reader.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>

#include "common/errors.h"
#include "json/base64.h"
#include "json/json_numbers.h"
#include "json/json_prefetch.h"

namespace npn {
namespace {

using json::is_digit;
using json::NumberLiteral;

constexpr size_t kPadding = json::kNumberPadding;
// A number literal is scanned whole when this many bytes are buffered.
constexpr ptrdiff_t kNumberLookahead = 32;
// Prefetch workers chosen automatically (-1): one per spare CPU, at most this many.
constexpr int kMaxAutoPrefetchThreads = 3;

// Bytes a string holds as they are: not '"', '\\', a control character or non-ASCII.
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[c] = c != '"' && c != '\\';
  return table;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

// Whether 8 bytes (one load) are all plain: none is '"', '\\', below 0x20 or
// non-ASCII (the classic "has a zero byte" test on shifted copies).
constexpr uint64_t kOnes = 0x0101010101010101;
constexpr uint64_t kHighs = 0x8080808080808080;
constexpr bool has_zero_byte(uint64_t v) { return ((v - kOnes) & ~v & kHighs) != 0; }
bool eight_plain(uint64_t v) {
  const bool below_space = ((v - 0x20 * kOnes) & ~v & kHighs) != 0;
  return (v & kHighs) == 0 && !below_space && !has_zero_byte(v ^ ('"' * kOnes)) &&
         !has_zero_byte(v ^ ('\\' * kOnes));
}

// The first byte at or after s that is not plain (the zero padding stops it).
const char* skip_plain(const char* s) {
  uint64_t v;
  for (;;) {
    std::memcpy(&v, s, sizeof v);
    if (!eight_plain(v)) break;
    s += 8;
  }
  while (kPlain[static_cast<unsigned char>(*s)]) ++s;
  return s;
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

  int fd() const { return fd_; }

  size_t read(char* out, size_t capacity) override {
    for (;;) {
      const ssize_t n = ::read(fd_, out, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) throw JsonFileError(errno, path_);
    }
  }

  void skip(size_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) JsonByteSource::skip(n);
  }

 private:
  std::string path_;
  int fd_;
};

// Builds the JsonValue tree. Not thread-safe; one builder per parse.
class TreeBuilder final : public JsonHandler {
 public:
  JsonValue take_root() { return std::move(root_); }

  void null_value() override { add(JsonValue{nullptr}); }
  void bool_value(bool value) override { add(JsonValue{value}); }
  void int_value(int64_t value) override { add(JsonValue{value}); }
  void double_value(double value) override { add(JsonValue{value}); }
  void big_int_value(std::string_view digits) override {
    add(JsonValue{JsonBigInt{std::string(digits)}});
  }
  void huge_float_value(std::string_view text) override {
    add(JsonValue{text.front() == '-' ? -HUGE_VAL : HUGE_VAL});
  }
  void string_value(std::string&& utf8) override { add(JsonValue{std::move(utf8)}); }
  void bytes_value(std::string&& bytes) override { add(JsonValue{JsonBytes{std::move(bytes)}}); }
  void int_array(std::vector<int64_t>&& values) override { add(JsonValue{std::move(values)}); }
  void float_array(std::vector<double>&& values) override { add(JsonValue{std::move(values)}); }
  void float32_array(std::vector<float>&& values) override { add(JsonValue{std::move(values)}); }
  void begin_array() override { open_.push_back(JsonValue{JsonArray{}}); }
  void begin_object() override { open_.push_back(JsonValue{JsonObject{}}); }
  void key(std::string&& utf8) override {
    std::get<JsonObject>(open_.back().data).keys.push_back(std::move(utf8));
  }
  void end_array() override { close(); }
  void end_object() override { close(); }

 private:
  void add(JsonValue&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
    } else if (auto* array = std::get_if<JsonArray>(&open_.back().data)) {
      array->push_back(std::move(value));
    } else {
      std::get<JsonObject>(open_.back().data).values.push_back(std::move(value));
    }
  }
  void close() {
    JsonValue done = std::move(open_.back());
    open_.pop_back();
    add(std::move(done));
  }

  JsonValue root_;
  std::vector<JsonValue> open_;  // the containers being filled, outermost first
};

// Not thread-safe; one Parser reads one document.
class Parser {
 public:
  Parser(JsonByteSource& source, JsonHandler& handler, const JsonParseOptions& options,
         json::ArrayPrefetcher* prefetch)
      : source_(source),
        handler_(handler),
        chunk_bytes_(std::max<size_t>(options.chunk_bytes, 1)),
        min_typed_(std::max<size_t>(options.min_typed_array, 1)),
        decode_b64_(options.decode_b64_members),
        huge_floats_as_text_(options.huge_floats_as_text),
        prefetch_(prefetch),
        stats_(options.stats),
        buffer_(chunk_bytes_ + kPadding, '\0') {
    p_ = end_ = buffer_.data();
  }

  void parse_document() {
    ensure(3);
    if (std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) {
      fail("Unexpected UTF-8 BOM (decode using utf-8-sig)");
    }
    parse_value(0);
    skip_whitespace();
    if (!at_end()) fail("Extra data");
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
    if (prefetch_ != nullptr) prefetch_->advance(buffer_offset_);
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

  // Continues at document offset `target` (ahead of p_), skipping unread bytes.
  void skip_to(int64_t target) {
    const int64_t buffered_end = offset_of(end_);
    if (target <= buffered_end) {
      p_ = buffer_.data() + (target - buffer_offset_);
      return;
    }
    source_.skip(static_cast<size_t>(target - buffered_end));
    buffer_offset_ = target;
    p_ = end_ = buffer_.data();
    std::memset(buffer_.data(), 0, kPadding);
  }

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

  void parse_value(int depth) {
    skip_whitespace();
    switch (*p_) {
      case '{':
        parse_object(depth + 1);
        return;
      case '[':
        parse_array(depth + 1);
        return;
      case '"':
        handler_.string_value(parse_string());
        return;
      case 't':
        expect_literal("true");
        handler_.bool_value(true);
        return;
      case 'f':
        expect_literal("false");
        handler_.bool_value(false);
        return;
      case 'n':
        expect_literal("null");
        handler_.null_value();
        return;
      default:
        emit(parse_number());
    }
  }

  // Hands a scalar number to the handler (a big integer's text is still buffered).
  void emit(const NumberLiteral& n) {
    switch (n.kind) {
      case NumberLiteral::Kind::kInt:
        handler_.int_value(n.integer);
        return;
      case NumberLiteral::Kind::kFloat:
        handler_.double_value(n.real);
        return;
      case NumberLiteral::Kind::kBigInt:
        handler_.big_int_value(std::string_view(n.begin, static_cast<size_t>(n.end - n.begin)));
        return;
      case NumberLiteral::Kind::kHugeFloat:
        handler_.huge_float_value(std::string_view(n.begin, static_cast<size_t>(n.end - n.begin)));
        return;
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

  void parse_object(int depth) {
    check_depth(depth);
    ++p_;
    handler_.begin_object();
    skip_whitespace();
    if (*p_ == '}') {
      ++p_;
      handler_.end_object();
      return;
    }
    for (;;) {
      if (*p_ != '"') fail("Expecting property name enclosed in double quotes");
      std::string key = parse_string();
      skip_whitespace();
      if (*p_ != ':') fail("Expecting ':' delimiter");
      ++p_;
      const bool b64 = decode_b64_ && key == "b64";
      handler_.key(std::move(key));
      if (b64) {
        parse_b64_value(depth);
      } else {
        parse_value(depth);
      }
      skip_whitespace();
      if (*p_ == '}') {
        ++p_;
        handler_.end_object();
        return;
      }
      if (*p_ != ',') fail("Expecting ',' delimiter");
      ++p_;
      skip_whitespace();
    }
  }

  // A "b64" member's value: a valid base64 string arrives decoded, anything
  // else (an invalid string included) as it is, for the caller to report.
  void parse_b64_value(int depth) {
    skip_whitespace();
    if (*p_ != '"') {
      parse_value(depth);
      return;
    }
    std::string text = parse_string();
    std::string bytes(base64_decoded_bound(text), '\0');
    bool decoded = true;
    try {
      bytes.resize(decode_base64(text, reinterpret_cast<unsigned char*>(bytes.data())));
    } catch (const DecodeError&) {
      decoded = false;
    }
    if (decoded) {
      handler_.bytes_value(std::move(bytes));
    } else {
      handler_.string_value(std::move(text));
    }
  }

  // An array of numbers of one kind accumulates in a scratch vector (only the
  // innermost open array can be numeric, so one suffices) and is handed over at
  // its close at its exact size; anything else makes it generic: its begin and
  // the numbers so far go to the handler, then each element as it comes.
  void parse_array(int depth) {
    check_depth(depth);
    if (prefetch_ != nullptr && take_prefetched()) return;
    ++p_;
    enum class Mode { kEmpty, kInts, kFloats, kGeneric } mode = Mode::kEmpty;
    skip_whitespace();
    if (*p_ == ']') {
      ++p_;
      handler_.begin_array();
      handler_.end_array();
      return;
    }
    for (;;) {
      skip_whitespace();
      const char c = *p_;
      const bool number = is_digit(c) || c == '-' || c == 'N' || c == 'I';
      if (number && mode != Mode::kGeneric) {
        const NumberLiteral n = parse_number();
        if (mode == Mode::kEmpty &&
            (n.kind == NumberLiteral::Kind::kInt || n.kind == NumberLiteral::Kind::kFloat)) {
          mode = n.kind == NumberLiteral::Kind::kInt ? Mode::kInts : Mode::kFloats;
        }
        if (mode == Mode::kInts && n.kind == NumberLiteral::Kind::kInt) {
          int_scratch_.push_back(n.integer);
        } else if (mode == Mode::kFloats && n.kind == NumberLiteral::Kind::kFloat) {
          float_scratch_.push_back(n.real);
          all_float32_ = all_float32_ && json::is_float32(n.real);
        } else {
          make_generic();
          mode = Mode::kGeneric;
          emit(n);
        }
        if (mode == Mode::kInts || mode == Mode::kFloats) {
          scan_numbers(mode == Mode::kInts ? NumberLiteral::Kind::kInt
                                           : NumberLiteral::Kind::kFloat);
        }
      } else {
        if (mode != Mode::kGeneric) {
          make_generic();
          mode = Mode::kGeneric;
        }
        parse_value(depth);
      }
      skip_whitespace();
      if (*p_ == ']') break;
      if (*p_ != ',') fail("Expecting ',' delimiter");
      ++p_;
    }
    ++p_;
    const size_t count = int_scratch_.size() + float_scratch_.size();
    if (mode != Mode::kGeneric && count < min_typed_) {
      make_generic();
      mode = Mode::kGeneric;
    }
    if (mode == Mode::kInts) {
      handler_.int_array(JsonIntArray(int_scratch_.begin(), int_scratch_.end()));
      int_scratch_.clear();
    } else if (mode == Mode::kFloats) {
      if (all_float32_) {
        handler_.float32_array(JsonFloat32Array(float_scratch_.begin(), float_scratch_.end()));
      } else {
        handler_.float_array(JsonFloatArray(float_scratch_.begin(), float_scratch_.end()));
      }
      float_scratch_.clear();
      all_float32_ = true;
    } else {
      handler_.end_array();
    }
  }

  // The common run of a numeric array: ", number" pairs separated by spaces, all of
  // one kind, scanned in one tight loop while the buffer holds a window ahead.
  // Returns with p_ just past the last number taken; anything else (the end,
  // another kind, a line break, a short buffer) is left to parse_array.
  void scan_numbers(NumberLiteral::Kind kind) {
    constexpr ptrdiff_t kWindow = 64;
    for (;;) {
      const char* s = p_;
      while (*s == ' ') ++s;
      if (*s != ',') return;
      ++s;
      while (*s == ' ') ++s;
      if (end_ - s < kWindow) return;
      NumberLiteral n;
      const char* end = json::scan_number(s, n);
      if (end == nullptr || n.kind != kind || end_ - end < 4) return;
      if (kind == NumberLiteral::Kind::kInt) {
        int_scratch_.push_back(n.integer);
      } else {
        float_scratch_.push_back(n.real);
        all_float32_ = all_float32_ && json::is_float32(n.real);
      }
      p_ = end;
    }
  }

  // Opens the array for the handler and hands over the numbers accumulated so far.
  void make_generic() {
    handler_.begin_array();
    for (int64_t v : int_scratch_) handler_.int_value(v);
    for (double v : float_scratch_) handler_.double_value(v);
    int_scratch_.clear();
    float_scratch_.clear();
    all_float32_ = true;
  }

  // The array at p_ ('[') if a prefetch worker parsed it: handed over, and the
  // parser continues after it with its line bookkeeping as if it had read it.
  bool take_prefetched() {
    json::PrefetchedArray array;
    if (!prefetch_->take(offset_of(p_), array)) return false;
    if (stats_ != nullptr) ++stats_->prefetched_arrays;
    switch (array.kind) {
      case json::PrefetchedArray::Kind::kInt:
        handler_.int_array(std::move(array.ints));
        break;
      case json::PrefetchedArray::Kind::kFloat:
        handler_.float_array(std::move(array.reals));
        break;
      case json::PrefetchedArray::Kind::kFloat32:
        handler_.float32_array(std::move(array.reals32));
        break;
    }
    if (array.line_breaks > 0) {
      line_ += array.line_breaks;
      line_start_ = array.last_line_start;
      line_extra_bytes_ = 0;
    }
    if (array.cr_end >= 0) cr_end_ = array.cr_end;
    skip_to(array.end_offset);
    return true;
  }

  // --- numbers ---

  NumberLiteral parse_number() {
    ensure(kNumberLookahead);
    for (;;) {
      NumberLiteral n;
      const char* end = json::scan_number(p_, n);
      // Scanning looks up to 3 bytes past a literal's end ("1e+" then a
      // non-digit): rescan after a refill when those may not have been read yet.
      if (end != nullptr && end_ - end < 4 && !eof_) {
        refill();
        continue;
      }
      if (end == nullptr) fail("Expecting value");
      p_ = end;
      if (n.kind == NumberLiteral::Kind::kHugeFloat && !huge_floats_as_text_) {
        n.kind = NumberLiteral::Kind::kFloat;
      }
      return n;
    }
  }

  // --- strings ---

  std::string parse_string() {
    const Position start = position_of(p_);
    ++p_;
    // The common case: no escapes and the closing quote already buffered.
    const char* s = skip_plain(p_);
    if (*s == '"') {
      std::string out(p_, s);
      p_ = s + 1;
      return out;
    }
    std::string out;
    for (;;) {
      s = skip_plain(p_);
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
  JsonHandler& handler_;
  size_t chunk_bytes_;
  size_t min_typed_;
  bool decode_b64_;
  bool huge_floats_as_text_;
  json::ArrayPrefetcher* prefetch_;
  JsonParseStats* stats_;
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

// Tasks running on the machine now, this thread included (Linux's /proc/loadavg
// "1.0 0.5 0.2 RUNNING/TOTAL LAST_PID"), or 1 when unknown.
int running_tasks() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return 1;
  int running = 1;
  if (std::fscanf(f, "%*s %*s %*s %d", &running) != 1) running = 1;
  std::fclose(f);
  return std::max(running, 1);
}

// Prefetch workers for `threads`; -1: one per CPU of this process's that no task
// uses now (a loaded machine gains nothing from them and pays their extra work).
int prefetch_threads(int threads) {
  if (threads >= 0) return threads;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const int available = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  return std::clamp(available - running_tasks(), 0, kMaxAutoPrefetchThreads);
}

}  // namespace

void JsonByteSource::skip(size_t n) {
  std::array<char, 4096> drop;
  while (n > 0) {
    const size_t got = read(drop.data(), std::min(n, drop.size()));
    if (got == 0) return;
    n -= got;
  }
}

JsonError::JsonError(Kind kind, const std::string& message, int64_t line, int64_t column)
    : std::runtime_error(compose_message(kind, message, line, column)),
      kind_(kind),
      line_(line),
      column_(column) {}

JsonFileError::JsonFileError(int errno_value, const std::string& path)
    : std::runtime_error(path + ": " + std::generic_category().message(errno_value)),
      errno_value_(errno_value),
      path_(path) {}

void parse_json(JsonByteSource& source, JsonHandler& handler, const JsonParseOptions& options) {
  Parser(source, handler, options, nullptr).parse_document();
}

void read_json_file(const std::string& path, JsonHandler& handler,
                    const JsonParseOptions& options) {
  FileSource source(path);  // outlives the prefetcher, which reads its descriptor
  std::unique_ptr<json::ArrayPrefetcher> prefetch;
  const int threads = prefetch_threads(options.prefetch_threads);
  struct stat info {};
  if (threads > 0 && ::fstat(source.fd(), &info) == 0 && S_ISREG(info.st_mode) &&
      info.st_size >= options.prefetch_min_file_bytes) {
    prefetch = std::make_unique<json::ArrayPrefetcher>(
        source.fd(), static_cast<int64_t>(info.st_size), threads,
        std::max<size_t>(options.min_typed_array, 1), options.prefetch_min_array_bytes);
  }
  Parser(source, handler, options, prefetch.get()).parse_document();
}

JsonValue parse_json(JsonByteSource& source, const JsonParseOptions& options) {
  TreeBuilder tree;
  parse_json(source, tree, options);
  return tree.take_root();
}

JsonValue parse_json(JsonByteSource& source, size_t chunk_bytes) {
  JsonParseOptions options;
  options.chunk_bytes = chunk_bytes;
  return parse_json(source, options);
}

JsonValue read_json_file(const std::string& path, const JsonParseOptions& options) {
  TreeBuilder tree;
  read_json_file(path, tree, options);
  return tree.take_root();
}

JsonValue read_json_file(const std::string& path) { return read_json_file(path, {}); }

}  // namespace npn
