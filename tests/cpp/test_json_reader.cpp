// Unit tests of the streaming JSON reader: values, compact numeric arrays,
// strings and escapes, correctly rounded numbers, error messages with
// positions, chunk-boundary invariance, files, concurrency and corruption.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "json/json_numbers.h"
#include "json/json_prefetch.h"
#include "json/json_reader.h"

using npn::JsonArray;
using npn::JsonBigInt;
using npn::JsonError;
using npn::JsonFloat32Array;
using npn::JsonFloatArray;
using npn::JsonIntArray;
using npn::JsonObject;
using npn::JsonValue;

namespace {

// Serves a string in reads of at most read_bytes bytes.
class StringSource final : public npn::JsonByteSource {
 public:
  StringSource(std::string text, size_t read_bytes) : text_(std::move(text)), step_(read_bytes) {}
  size_t read(char* out, size_t capacity) override {
    const size_t n = std::min({capacity, step_, text_.size() - pos_});
    std::memcpy(out, text_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string text_;
  size_t step_;
  size_t pos_ = 0;
};

JsonValue parse(const std::string& text, size_t chunk_bytes = npn::kJsonDefaultChunkBytes,
                size_t read_bytes = std::numeric_limits<size_t>::max()) {
  StringSource source(text, read_bytes);
  return npn::parse_json(source, chunk_bytes);
}

std::string error_of(const std::string& text, size_t chunk_bytes = npn::kJsonDefaultChunkBytes) {
  try {
    parse(text, chunk_bytes);
  } catch (const JsonError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string hex_double(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", v);
  return text;
}

// A canonical text of a tree that tells every node kind apart (doubles exactly).
std::string dump(const JsonValue& v) {
  const auto& d = v.data;
  if (std::holds_alternative<std::nullptr_t>(d)) return "null";
  if (const bool* b = std::get_if<bool>(&d)) return *b ? "true" : "false";
  if (const int64_t* i = std::get_if<int64_t>(&d)) return "i" + std::to_string(*i);
  if (const double* x = std::get_if<double>(&d)) return "f" + hex_double(*x);
  if (const auto* big = std::get_if<JsonBigInt>(&d)) return "big" + big->digits;
  if (const auto* s = std::get_if<std::string>(&d)) return "s\"" + *s + "\"";
  if (const auto* b = std::get_if<npn::JsonBytes>(&d)) return "b\"" + b->bytes + "\"";
  if (const auto* ints = std::get_if<JsonIntArray>(&d)) {
    std::string out = "I[";
    for (int64_t i : *ints) out += std::to_string(i) + ",";
    return out + "]";
  }
  if (const auto* reals = std::get_if<JsonFloatArray>(&d)) {
    std::string out = "F[";
    for (double x : *reals) out += hex_double(x) + ",";
    return out + "]";
  }
  if (const auto* reals = std::get_if<JsonFloat32Array>(&d)) {
    std::string out = "F32[";
    for (float x : *reals) out += hex_double(x) + ",";
    return out + "]";
  }
  if (const auto* items = std::get_if<JsonArray>(&d)) {
    std::string out = "[";
    for (const auto& item : *items) out += dump(item) + ",";
    return out + "]";
  }
  const auto& object = std::get<JsonObject>(d);
  std::string out = "{";
  for (size_t k = 0; k < object.keys.size(); ++k) {
    out += "\"" + object.keys[k] + "\":" + dump(object.values[k]) + ",";
  }
  return out + "}";
}

// Writes text to a new temporary file; returns its path.
std::string temp_file(const std::string& text) {
  char path[] = "/tmp/npn_json_reader_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::FILE* f = fdopen(fd, "w");
  REQUIRE(f != nullptr);
  REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  std::fclose(f);
  return path;
}

// The tree (or the error) of a file, with `threads` prefetch workers on every array.
std::string read_with(const std::string& path, int threads, size_t min_typed = 1,
                      npn::JsonParseStats* stats = nullptr) {
  npn::JsonParseOptions options;
  options.stats = stats;
  options.prefetch_threads = threads;
  options.prefetch_min_file_bytes = 0;
  options.prefetch_min_array_bytes = 2;
  options.min_typed_array = min_typed;
  try {
    return dump(npn::read_json_file(path, options));
  } catch (const JsonError& e) {
    return std::string("error: ") + e.what();
  }
}

double parse_double(const std::string& literal) {
  const JsonValue v = parse(literal);
  REQUIRE(std::holds_alternative<double>(v.data));
  return std::get<double>(v.data);
}

const std::string kSample =
    "{\"data\": [{\"A\": [1, -2, 3], \"B\": [0.5, -1e-3, 2.5E+2, NaN, -Infinity]},\r\n"
    " {\"A\": {\"content\": [4, 5.5], \"shape\": [2]}, \"S\": [\"x\\u00e9\\ud83d\\ude00\", "
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"caf\xc3\xa9\"]},\n"
    " {\"big\": [18446744073709551615, -9223372036854775808], \"e\": [], \"o\": {}, "
    "\"n\": [null, true, false, [1, [2.0]]]}]}";

}  // namespace

TEST_CASE("scalars and literals") {
  CHECK(dump(parse("null")) == "null");
  CHECK(dump(parse(" true ")) == "true");
  CHECK(dump(parse("false")) == "false");
  CHECK(dump(parse("0")) == "i0");
  CHECK(dump(parse("-0")) == "i0");
  CHECK(dump(parse("9223372036854775807")) == "i9223372036854775807");
  CHECK(dump(parse("-9223372036854775808")) == "i-9223372036854775808");
  CHECK(dump(parse("9223372036854775808")) == "big9223372036854775808");
  CHECK(dump(parse("-9223372036854775809")) == "big-9223372036854775809");
  CHECK(dump(parse("123456789012345678901234567890")) == "big123456789012345678901234567890");
  CHECK(dump(parse("\"\"")) == "s\"\"");
  CHECK(std::isnan(parse_double("NaN")));
  CHECK(parse_double("Infinity") == HUGE_VAL);
  CHECK(parse_double("-Infinity") == -HUGE_VAL);
}

TEST_CASE("numbers are correctly rounded, out of range goes to infinity or zero") {
  CHECK(parse_double("0.1") == 0.1);
  CHECK(parse_double("-0.0") == 0.0);
  CHECK(std::signbit(parse_double("-0.0")));
  CHECK(parse_double("1E2") == 100.0);
  CHECK(parse_double("1e+2") == 100.0);
  CHECK(parse_double("9007199254740993.0") == 9007199254740992.0);
  CHECK(parse_double("0.30000000000000004") == 0.30000000000000004);
  CHECK(parse_double("1.7976931348623157e308") == std::numeric_limits<double>::max());
  CHECK(parse_double("2.2250738585072014e-308") == std::numeric_limits<double>::min());
  CHECK(parse_double("4.9406564584124654e-324") == std::numeric_limits<double>::denorm_min());
  CHECK(parse_double("1e400") == HUGE_VAL);
  CHECK(parse_double("-1e400") == -HUGE_VAL);
  CHECK(parse_double("123.4e99999999999999999999") == HUGE_VAL);
  CHECK(parse_double("1e-400") == 0.0);
  CHECK(std::signbit(parse_double("-1e-400")));
  CHECK(parse_double("0.000001e-999999") == 0.0);
  CHECK(parse_double("0e999999") == 0.0);
  CHECK(parse_double("1.00000000000000011102230246251565404236316680908203125") == 1.0);
  CHECK(parse_double("1.00000000000000011102230246251565404236316680908203126") ==
        1.0000000000000002);

  // Random doubles printed with 15 to 17 significant digits and as integers
  // with an exponent, against strtod (the C library rounds correctly).
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> bits;
  for (int i = 0; i < 20000; ++i) {
    double x;
    const uint64_t b = bits(rng);
    std::memcpy(&x, &b, sizeof x);
    if (!std::isfinite(x)) continue;
    if (i % 2 == 1) x = std::ldexp(static_cast<double>(b >> 40), -static_cast<int>(b % 40));
    char literal[64];
    std::snprintf(literal, sizeof literal, "%.*g", 15 + i % 3, x);
    std::string text = literal;
    if (text.find_first_of(".eE") == std::string::npos) text += ".0";
    CAPTURE(text);
    CHECK(hex_double(parse_double(text)) == hex_double(std::strtod(text.c_str(), nullptr)));
  }
}

TEST_CASE("numeric arrays are compact; anything mixed is generic") {
  CHECK(dump(parse("[1, -2, 3]")) == "I[1,-2,3,]");
  // float32 when it holds every value exactly, else double.
  CHECK(dump(parse("[0.5, -1e0, NaN, -0.0, Infinity]")) == "F32[0x1p-1,-0x1p+0,nan,-0x0p+0,inf,]");
  CHECK(dump(parse("[0.5, 0.1]")) == "F[0x1p-1,0x1.999999999999ap-4,]");
  CHECK(dump(parse("[0.5, 1e39]")).rfind("F[0x1p-1,", 0) == 0);
  CHECK(dump(parse("[1e-46]")).rfind("F[", 0) == 0);
  CHECK(dump(parse("[3.4028234663852886e38]")) == "F32[0x1.fffffep+127,]");
  CHECK(dump(parse("[1, 2.5]")) == "[i1,f0x1.4p+1,]");
  CHECK(dump(parse("[2.5, 1]")) == "[f0x1.4p+1,i1,]");
  CHECK(dump(parse("[1, 9223372036854775808]")) == "[i1,big9223372036854775808,]");
  CHECK(dump(parse("[1, \"a\"]")) == "[i1,s\"a\",]");
  CHECK(dump(parse("[[1, 2], [3.5], []]")) == "[I[1,2,],F32[0x1.cp+1,],[],]");
  CHECK(dump(parse("[1, [2], 3]")) == "[i1,I[2,],i3,]");
  CHECK(dump(parse(" [ ] ")) == "[]");
}

TEST_CASE("objects keep document order and duplicate keys") {
  CHECK(dump(parse("{\"b\": 1, \"a\": {}, \"b\": [true]}")) ==
        "{\"b\":i1,\"a\":{},\"b\":[true,],}");
}

TEST_CASE("strings: escapes, surrogate pairs, lone surrogates, raw UTF-8") {
  CHECK(dump(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"")) == "s\"\"\\/\b\f\n\r\t\"");
  CHECK(dump(parse("\"\\u00e9\\u20AC\"")) == "s\"\xc3\xa9\xe2\x82\xac\"");
  CHECK(dump(parse("\"\\ud83d\\ude00\"")) == "s\"\xf0\x9f\x98\x80\"");
  CHECK(dump(parse("\"\\ud800\"")) == "s\"\xed\xa0\x80\"");
  CHECK(dump(parse("\"\\udc00x\"")) == "s\"\xed\xb0\x80x\"");
  CHECK(dump(parse("\"\\ud800\\u0041\"")) ==
        "s\"\xed\xa0\x80"
        "A\"");
  CHECK(dump(parse("\"\\ud800\\ud800\\udc00\"")) == "s\"\xed\xa0\x80\xf0\x90\x80\x80\"");
  CHECK(dump(parse("\"caf\xc3\xa9 \xf4\x8f\xbf\xbf\"")) == "s\"caf\xc3\xa9 \xf4\x8f\xbf\xbf\"");
}

TEST_CASE("syntax errors read as Python's json, with line and column") {
  CHECK(error_of("") == "Expecting value at line 1 column 1");
  CHECK(error_of("  ") == "Expecting value at line 1 column 3");
  CHECK(error_of("[1,]") == "Expecting value at line 1 column 4");
  CHECK(error_of("[1 2]") == "Expecting ',' delimiter at line 1 column 4");
  CHECK(error_of("[1") == "Expecting ',' delimiter at line 1 column 3");
  CHECK(error_of("[01]") == "Expecting ',' delimiter at line 1 column 3");
  CHECK(error_of("{\"a\" 1}") == "Expecting ':' delimiter at line 1 column 6");
  CHECK(error_of("{1:2}") ==
        "Expecting property name enclosed in double quotes at line 1 column 2");
  CHECK(error_of("{\"a\":1,}") ==
        "Expecting property name enclosed in double quotes at line 1 column 8");
  CHECK(error_of("\"ab") == "Unterminated string starting at line 1 column 1");
  CHECK(error_of("\"a\x01\"") == "Invalid control character at line 1 column 3");
  CHECK(error_of("\"\\x\"") == "Invalid \\escape at line 1 column 2");
  CHECK(error_of("\"\\u12\"") == "Invalid \\uXXXX escape at line 1 column 3");
  CHECK(error_of("[1] x") == "Extra data at line 1 column 5");
  CHECK(error_of("1.") == "Extra data at line 1 column 2");
  CHECK(error_of("nul") == "Expecting value at line 1 column 1");
  CHECK(error_of("-NaN") == "Expecting value at line 1 column 1");
  CHECK(error_of("\xEF\xBB\xBF{}") ==
        "Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1 column 1");
  try {
    parse("[1,\n  2 3]");
    FAIL("expected JsonError");
  } catch (const JsonError& e) {
    CHECK(e.kind() == JsonError::Kind::kSyntax);
    CHECK(e.line() == 2);
    CHECK(e.column() == 5);
  }
  // Lines end at \n, \r\n or \r; columns count code points.
  CHECK(error_of("[1,\n  2,,]") == "Expecting value at line 2 column 5");
  CHECK(error_of("[1,\r\n  2,,]") == "Expecting value at line 2 column 5");
  CHECK(error_of("[1,\r\r  2,,]") == "Expecting value at line 3 column 5");
  CHECK(error_of("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", x]") ==
        "Expecting value at line 1 column 9");
}

TEST_CASE("invalid UTF-8 is reported as such, with Python's reasons") {
  CHECK(error_of("\"\xff\"") == "not valid UTF-8 (invalid start byte)");
  CHECK(error_of("\"\xc0\xaf\"") == "not valid UTF-8 (invalid start byte)");
  CHECK(error_of("\"\xe2\x82\"") == "not valid UTF-8 (invalid continuation byte)");
  CHECK(error_of("\"\xed\xa0\x80\"") == "not valid UTF-8 (invalid continuation byte)");
  CHECK(error_of("\"\xf4\x90\x80\x80\"") == "not valid UTF-8 (invalid continuation byte)");
  CHECK(error_of("\"\xe2\x82") == "not valid UTF-8 (unexpected end of data)");
  CHECK(error_of("[1, \xff]") == "not valid UTF-8 (invalid start byte)");
  // Valid UTF-8 where no value may start is a syntax error.
  CHECK(error_of("[\xc3\xa9]") == "Expecting value at line 1 column 2");
}

TEST_CASE("nesting depth is limited") {
  const int max = npn::kJsonMaxDepth;
  const std::string ok = std::string(max, '[') + std::string(max, ']');
  CHECK(dump(parse(ok)).size() == 3 * static_cast<size_t>(max) - 1);
  const std::string deep = std::string(max + 1, '[') + std::string(max + 1, ']');
  CHECK(error_of(deep) == "nested too deeply");
  std::string objects;
  for (int i = 0; i <= max; ++i) objects += "{\"a\":";
  CHECK(error_of(objects + "1" + std::string(max + 1, '}')) == "nested too deeply");
}

TEST_CASE("chunk and read sizes do not change the result or the error") {
  const std::string expected = dump(parse(kSample));
  CHECK(expected.find("I[1,-2,3,]") != std::string::npos);
  CHECK(expected.find("[i4,f0x1.6p+2,]") != std::string::npos);
  CHECK(expected.find("big18446744073709551615") != std::string::npos);
  CHECK(expected.find("s\"x\xc3\xa9\xf0\x9f\x98\x80\"") != std::string::npos);
  for (size_t chunk = 1; chunk <= 40; ++chunk) {
    for (size_t read_bytes : {size_t{1}, size_t{3}, chunk}) {
      CAPTURE(chunk);
      CAPTURE(read_bytes);
      CHECK(dump(parse(kSample, chunk, read_bytes)) == expected);
    }
  }
  const std::string bad = "{\"a\": [1.5, 2.5e+1, 3],\n \"b\": \"\xc3\xa9\xc3\xa9\" x}";
  for (size_t chunk = 1; chunk <= 16; ++chunk) {
    CHECK(error_of(bad, chunk) == "Expecting ',' delimiter at line 2 column 12");
  }
}

TEST_CASE("long literals across many refills") {
  std::string digits(5000, '7');
  CHECK(dump(parse(digits, 16)) == "big" + digits);
  const std::string real = "0." + std::string(3000, '3') + "e1";
  CHECK(hex_double(parse_double(real)) == hex_double(std::strtod(real.c_str(), nullptr)));
  const std::string text(100000, 'q');
  CHECK(dump(parse("\"" + text + "\"", 7)) == "s\"" + text + "\"");
}

TEST_CASE("files: contents, missing file") {
  char path[] = "/tmp/npn_json_reader_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::FILE* f = fdopen(fd, "w");
  REQUIRE(f != nullptr);
  std::fputs(kSample.c_str(), f);
  std::fclose(f);
  CHECK(dump(npn::read_json_file(path)) == dump(parse(kSample)));
  std::remove(path);
  try {
    npn::read_json_file(path);
    FAIL("expected JsonFileError");
  } catch (const npn::JsonFileError& e) {
    CHECK(e.errno_value() == ENOENT);
    CHECK(e.path() == path);
  }
}

TEST_CASE("concurrent parses share no state") {
  const std::string expected = dump(parse(kSample));
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&results, t] {
      for (int i = 0; i < 20; ++i) results[t] = dump(parse(kSample, 8 + t));
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& r : results) CHECK(r == expected);
}

TEST_CASE("corrupted documents only ever raise JsonError") {
  std::mt19937 rng(11);
  int errors = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = kSample;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          text.erase(pos, 1 + rng() % 8);
          break;
        default:
          text.resize(pos);
          break;
      }
      if (text.empty()) break;
    }
    try {
      parse(text, 1 + rng() % 64, 1 + rng() % 32);
    } catch (const JsonError&) {
      ++errors;
    }
  }
  CHECK(errors > 1000);
}

TEST_CASE("b64 members arrive decoded when asked; invalid ones stay strings") {
  const std::string text = R"({"b64": "AAECAw==", "x": {"b64": "not base64!"}, "y": "AAECAw=="})";
  StringSource source(text, 5);
  npn::JsonParseOptions options;
  options.decode_b64_members = true;
  options.chunk_bytes = 3;
  CHECK(dump(npn::parse_json(source, options)) ==
        std::string("{\"b64\":b\"") + std::string("\x00\x01\x02\x03", 4) +
            "\",\"x\":{\"b64\":s\"not base64!\",},\"y\":s\"AAECAw==\",}");
  CHECK(dump(parse(text)) == dump(parse(text, 3)));  // off by default
}

TEST_CASE("huge float literals: infinity, or their own event when asked") {
  CHECK(dump(parse("[1e400, -1e400]")) == dump(parse("[Infinity, -Infinity]")));
  struct Literals final : npn::JsonHandler {
    std::vector<std::string> huge;
    int doubles = 0;
    void null_value() override {}
    void bool_value(bool) override {}
    void int_value(int64_t) override {}
    void double_value(double) override { ++doubles; }
    void big_int_value(std::string_view) override {}
    void huge_float_value(std::string_view text) override { huge.emplace_back(text); }
    void string_value(std::string&&) override {}
    void bytes_value(std::string&&) override {}
    void int_array(std::vector<int64_t>&&) override {}
    void float_array(std::vector<double>&&) override { doubles += 100; }
    void float32_array(std::vector<float>&&) override { doubles += 100; }
    void begin_array() override {}
    void end_array() override {}
    void begin_object() override {}
    void key(std::string&&) override {}
    void end_object() override {}
  } handler;
  npn::JsonParseOptions options;
  options.huge_floats_as_text = true;
  StringSource source("[0.5, 1e400, -2E+999, 1e308, Infinity]", 4);
  npn::parse_json(source, handler, options);
  CHECK(handler.huge == std::vector<std::string>{"1e400", "-2E+999"});
  CHECK(handler.doubles == 3);  // the array went generic: 0.5, 1e308, Infinity one by one
}

TEST_CASE("numeric arrays below min_typed_array arrive element by element") {
  npn::JsonParseOptions options;
  options.min_typed_array = 3;
  StringSource a("[[1, 2], [1, 2, 3], [0.5], [0.5, 1.5, 2.5]]", 1000);
  CHECK(dump(npn::parse_json(a, options)) ==
        "[[i1,i2,],I[1,2,3,],[f0x1p-1,],F32[0x1p-1,0x1.8p+0,0x1.4p+1,],]");
}

// A document of many numeric arrays of every kind, some pretty-printed with each
// line-break style, some inside strings, some mixed, spanning several 1 MiB regions.
std::string prefetch_document(std::mt19937& rng, size_t bytes) {
  std::string text = "{\"data\": [\n";
  int k = 0;
  while (text.size() < bytes) {
    const int n = 1 + static_cast<int>(rng() % 400);
    const char* breaks[] = {" ", "\n", "\r\n", "\r", "\t"};
    const char* sep = breaks[rng() % 5];
    std::string array = "[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) array += std::string(",") + sep;
      switch (k % 6) {
        case 0:
          array += std::to_string(static_cast<int64_t>(rng()) - (1LL << 31));
          break;
        case 1:
          array += std::to_string(static_cast<float>(rng() % 1000) / 8.0f);
          break;
        case 2:
          array += std::to_string(static_cast<double>(rng()) / 7.0);
          break;
        case 3:
          array += (i == n / 2) ? "1.5" : std::to_string(i);  // mixed: generic
          break;
        case 4:
          array += (i % 7 == 0) ? "-Infinity" : "1e-3";
          break;
        default:
          array += std::to_string(i) + "e2";
          break;
      }
    }
    array += "]";
    std::string quoted = array.substr(0, 40);  // a '[' inside a string: not an array
    for (char& c : quoted) c = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    text += "{\"t" + std::to_string(k) + "\": " + array + ", \"s\": \"" + quoted + "\"},\n";
    ++k;
  }
  text += "{\"end\": [[1, 2, 3], [], [4.5]]}\n]}";
  return text;
}

TEST_CASE("prefetch workers change nothing: trees, line numbers in errors") {
  std::mt19937 rng(5);
  const std::string text = prefetch_document(rng, size_t{3} << 20);
  const std::string path = temp_file(text);
  const std::string serial = read_with(path, 0);
  CHECK_MESSAGE(serial.rfind("error", 0) != 0, serial.substr(0, 200));
  npn::JsonParseStats stats;
  CHECK(read_with(path, 0, 1, &stats) == serial);
  CHECK(stats.prefetched_arrays == 0);
  for (int threads : {1, 3}) CHECK(read_with(path, threads) == serial);
  // How many arrays the workers convert depends on scheduling; within 20 reads, some.
  for (int i = 0; i < 20 && stats.prefetched_arrays == 0; ++i) {
    CHECK(read_with(path, 1, 1, &stats) == serial);
  }
  CHECK(stats.prefetched_arrays > 0);
  CHECK(read_with(path, 2, 50) == read_with(path, 0, 50));
  std::remove(path.c_str());
  // An error after many prefetched (multi-line) arrays reports the same position.
  for (const char* tail : {"\n , x]}", "\r\n [1 2]]}", "\r[1,\n2,,]]}"}) {
    std::string broken = text.substr(0, text.size() - 2) + tail;
    const std::string bad = temp_file(broken);
    const std::string expected = read_with(bad, 0);
    CHECK(expected.rfind("error", 0) == 0);
    CHECK(read_with(bad, 2) == expected);
    std::remove(bad.c_str());
  }
}

TEST_CASE("an array longer than a prefetch region") {
  std::string text = "[";
  for (int i = 0; i < 400000; ++i) text += std::to_string(i * 3) + ".25,";
  text += "1.0]";
  const std::string path = temp_file(text);
  CHECK(read_with(path, 1) == read_with(path, 0));
  std::remove(path.c_str());
}

TEST_CASE("parse_numeric_array accepts exactly what the parser types") {
  const auto parsed = [](const std::string& text, size_t min = 1) {
    std::string padded = text + std::string(npn::json::kNumberPadding, '\0');
    npn::json::PrefetchedArray out;
    const bool ok =
        npn::json::parse_numeric_array(padded.data(), padded.data() + text.size(), 100, min, out);
    return ok ? std::to_string(static_cast<int>(out.kind)) + ":" + std::to_string(out.end_offset)
              : std::string("no");
  };
  CHECK(parsed("[1, 2, 3]") == "0:109");
  CHECK(parsed("[0.5,\r\n1.5]") == "2:111");
  CHECK(parsed("[0.1, 0.2]") == "1:110");
  CHECK(parsed("[1, 2.5]") == "no");                // mixed
  CHECK(parsed("[1, 2]", 3) == "no");               // too short
  CHECK(parsed("[1, ]") == "no");                   // syntax error: the parser reports it
  CHECK(parsed("[1e400]") == "no");                 // huge: the parser decides
  CHECK(parsed("[18446744073709551616]") == "no");  // beyond int64
  CHECK(parsed("[1 2]") == "no");
  CHECK(parsed("[01]") == "no");
  CHECK(parsed("[-]") == "no");
  CHECK(parsed("[NaN, Infinity]") == "2:115");
}
