// A streaming JSON (RFC 8259) reader for large input-data files.
//
// The document is read in chunks, never whole, and handed to a JsonHandler
// value by value (SAX style), so a caller can build its own tree without an
// intermediate copy of the document. An array whose elements are all integer
// literals that fit int64 arrives as one std::vector<int64_t>, and one whose
// elements are all float literals (with a fraction or exponent, or NaN /
// Infinity / -Infinity, which Python's json accepts too) as one
// std::vector<double>, or std::vector<float> when every value is exactly a
// float32 (half the memory for data written from float32 tensors, and the same
// values): a tensor of a million numbers is one call, not a million. Any other
// array (mixed integer and float literals, integers beyond int64, strings, ...)
// arrives element by element, so a handler always tells an integer literal from
// a float one, as json.loads does. parse_json / read_json_file without a handler
// build a JsonValue tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace npn {

struct JsonValue;

// An object's members in document order; duplicate keys are kept (the last wins
// when the caller builds a map, as in Python).
struct JsonObject {
  std::vector<std::string> keys;
  std::vector<JsonValue> values;
};

// An integer literal that does not fit int64, kept as its decimal text.
struct JsonBigInt {
  std::string digits;
};

// The bytes of a "b64" member decoded by the reader (JsonParseOptions).
struct JsonBytes {
  std::string bytes;
};

using JsonArray = std::vector<JsonValue>;
using JsonIntArray = std::vector<int64_t>;
using JsonFloatArray = std::vector<double>;
using JsonFloat32Array = std::vector<float>;

// One node. Strings are UTF-8, except that a lone surrogate written as a \u
// escape is kept as its 3-byte (surrogatepass) encoding, as Python keeps it.
struct JsonValue {
  std::variant<std::nullptr_t, bool, int64_t, double, JsonBigInt, std::string, JsonArray,
               JsonObject, JsonIntArray, JsonFloatArray, JsonFloat32Array, JsonBytes>
      data;
};

// A document that is not valid JSON. what() is the whole message, worded as
// Python's json words it: "<what is wrong> at line L column C" (column in code
// points, both from 1; lines end at \n, \r\n or \r, as in Python's text mode),
// "not valid UTF-8 (<reason>)" or "nested too deeply".
class JsonError : public std::runtime_error {
 public:
  enum class Kind { kSyntax, kUtf8, kDepth };
  JsonError(Kind kind, const std::string& message, int64_t line, int64_t column);
  Kind kind() const noexcept { return kind_; }
  int64_t line() const noexcept { return line_; }
  int64_t column() const noexcept { return column_; }

 private:
  Kind kind_;
  int64_t line_;
  int64_t column_;
};

// A file that cannot be opened or read; errno_value is the system's errno.
class JsonFileError : public std::runtime_error {
 public:
  JsonFileError(int errno_value, const std::string& path);
  int errno_value() const noexcept { return errno_value_; }
  const std::string& path() const noexcept { return path_; }

 private:
  int errno_value_;
  std::string path_;
};

// Supplies a document's bytes in chunks. read() fills up to capacity bytes and
// returns how many it wrote; 0 means the end of the document.
class JsonByteSource {
 public:
  virtual ~JsonByteSource() = default;
  virtual size_t read(char* out, size_t capacity) = 0;
  // Skips the next n bytes (the default reads and drops them).
  virtual void skip(size_t n);
};

// Containers nested deeper than this raise JsonError(kDepth). Python's json
// gives up near 1000 (its recursion limit); staying well below lets Python code
// that prints or walks a parsed value recursively finish within that limit.
inline constexpr int kJsonMaxDepth = 512;
// Small enough that the buffer stays in the CPU's L2 cache.
inline constexpr size_t kJsonDefaultChunkBytes = size_t{64} << 10;

// Receives one document's values in document order. A member's key comes just
// before its value; a typed array (see the file comment) replaces the
// begin_array ... end_array of its elements. A handler may throw to stop the
// parse; the exception propagates out of parse_json unchanged.
class JsonHandler {
 public:
  virtual ~JsonHandler() = default;
  virtual void null_value() = 0;
  virtual void bool_value(bool value) = 0;
  virtual void int_value(int64_t value) = 0;
  virtual void double_value(double value) = 0;
  virtual void big_int_value(std::string_view digits) = 0;  // beyond int64, as decimal text
  // A finite literal beyond double's range, as its text (JsonParseOptions).
  virtual void huge_float_value(std::string_view text) = 0;
  virtual void string_value(std::string&& utf8) = 0;
  virtual void bytes_value(std::string&& bytes) = 0;  // a decoded "b64" member
  virtual void int_array(std::vector<int64_t>&& values) = 0;
  virtual void float_array(std::vector<double>&& values) = 0;
  virtual void float32_array(std::vector<float>&& values) = 0;
  virtual void begin_array() = 0;
  virtual void end_array() = 0;
  virtual void begin_object() = 0;
  virtual void key(std::string&& utf8) = 0;
  virtual void end_object() = 0;
};

// What a parse did, for diagnostics and tests.
struct JsonParseStats {
  int64_t prefetched_arrays = 0;  // typed arrays converted by prefetch workers
};

struct JsonParseOptions {
  size_t chunk_bytes = kJsonDefaultChunkBytes;
  // Numeric arrays with fewer elements arrive element by element: a typed array
  // costs a caller more per array (a numpy array is ~100 bytes) than a few numbers.
  size_t min_typed_array = 1;
  // The value of an object member named "b64" that is a valid base64 string
  // arrives as bytes_value (decoded), any other value as usual.
  bool decode_b64_members = false;
  // A float literal beyond double's range (1e400, which json.load reads as
  // infinity) arrives as huge_float_value and makes its array generic, so a
  // caller can tell it from the literal Infinity; otherwise as +-infinity.
  bool huge_floats_as_text = false;
  // Worker threads that parse a file's large numeric arrays ahead of the parser
  // (read_json_file only, regular files of at least prefetch_min_file_bytes);
  // 0: none, -1: one per CPU no task is running on now, at most 3. Results are the
  // same. On the 792 MB number-list benchmark file, one worker takes the parser's
  // own CPU time from 1.0 s to 0.56 s, for 13% more CPU time in all.
  int prefetch_threads = 0;
  int64_t prefetch_min_file_bytes = int64_t{8} << 20;
  // Numeric arrays shorter than this (in bytes of text) are left to the parser.
  int64_t prefetch_min_array_bytes = 1024;
  JsonParseStats* stats = nullptr;  // filled in when set
};

// Parses one document into handler. The functions are reentrant: calls share no
// state. Throws JsonError for invalid JSON, including invalid UTF-8 anywhere it
// is read, a UTF-8 byte order mark, trailing non-whitespace and an empty
// document; read_json_file also throws JsonFileError when the file cannot be read.
void parse_json(JsonByteSource& source, JsonHandler& handler, const JsonParseOptions& options);
void read_json_file(const std::string& path, JsonHandler& handler, const JsonParseOptions& options);

// The same, building a JsonValue tree.
JsonValue parse_json(JsonByteSource& source, size_t chunk_bytes = kJsonDefaultChunkBytes);
JsonValue parse_json(JsonByteSource& source, const JsonParseOptions& options);
JsonValue read_json_file(const std::string& path);
JsonValue read_json_file(const std::string& path, const JsonParseOptions& options);

}  // namespace npn
