// A streaming JSON (RFC 8259) reader for large input-data files.
//
// The document is read in chunks, never whole, into a small tree. An array
// whose elements are all integer literals that fit int64 is stored as one
// std::vector<int64_t>, and one whose elements are all float literals (with a
// fraction or exponent, or NaN / Infinity / -Infinity, which Python's json
// accepts too) as one std::vector<double>, or std::vector<float> when every
// value is exactly a float32 (half the memory for data written from float32
// tensors, and the same values): a tensor of a million numbers is one node, not
// a million. Any other array (mixed integer and float literals,
// integers beyond int64, strings, ...) is a generic array of nodes, so the
// tree always tells an integer literal from a float one, as json.loads does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
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

using JsonArray = std::vector<JsonValue>;
using JsonIntArray = std::vector<int64_t>;
using JsonFloatArray = std::vector<double>;
using JsonFloat32Array = std::vector<float>;

// One node. Strings are UTF-8, except that a lone surrogate written as a \u
// escape is kept as its 3-byte (surrogatepass) encoding, as Python keeps it.
struct JsonValue {
  std::variant<std::nullptr_t, bool, int64_t, double, JsonBigInt, std::string, JsonArray,
               JsonObject, JsonIntArray, JsonFloatArray, JsonFloat32Array>
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
};

// Containers nested deeper than this raise JsonError(kDepth). Python's json
// gives up near 1000 (its recursion limit); staying well below lets Python code
// that prints or walks a parsed value recursively finish within that limit.
inline constexpr int kJsonMaxDepth = 512;
// Small enough that the buffer stays in the CPU's L2 cache.
inline constexpr size_t kJsonDefaultChunkBytes = size_t{64} << 10;

// Parses one document. The functions are reentrant: calls share no state.
// Throws JsonError for invalid JSON, including invalid UTF-8 anywhere it is
// read, a UTF-8 byte order mark, trailing non-whitespace and an empty document.
JsonValue parse_json(JsonByteSource& source, size_t chunk_bytes = kJsonDefaultChunkBytes);

// Reads and parses a file; also throws JsonFileError when it cannot be read.
JsonValue read_json_file(const std::string& path);

}  // namespace npn
