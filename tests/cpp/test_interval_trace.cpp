// IntervalTrace: replayed request intervals read from text, bounded and validated,
// written once and mapped by other readers.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/errors.h"
#include "engine/interval_trace.h"

using namespace npn;

namespace {

// A file in the temp directory, removed at the end of the test.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/npn_trace_XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::string error_of(const std::string& path, int64_t max = IntervalTrace::kMaxIntervals) {
  try {
    IntervalTrace::read_text(path, max);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a text trace is read with blank lines skipped and arrivals summed") {
  TempFile file("100\n  200.5 \r\n\n1e3\n");  // no newline at the end is fine too
  const auto trace = IntervalTrace::read_text(file.path);
  REQUIRE(trace->size() == 3);
  CHECK(trace->cycle_ns() == 1'300'500);
  CHECK(trace->max_interval_ns() == 1'000'000);
  CHECK(trace->arrival_ns(0) == 100'000);
  CHECK(trace->arrival_ns(1) == 300'500);
  CHECK(trace->arrival_ns(2) == 1'300'500);
  CHECK(trace->arrival_ns(3) == 1'400'500);  // looped
  CHECK(trace->arrived_by(99'999) == 0);
  CHECK(trace->arrived_by(100'000) == 1);
  CHECK(trace->arrived_by(1'400'500) == 4);
  CHECK(trace->arrived_by(-1) == 0);
}

TEST_CASE("a bad trace is refused with its file and line, before reading further") {
  TempFile letters("100\n\nabc\n200\n");
  CHECK(contains(error_of(letters.path), letters.path + " line 3 ('abc') is not a number"));
  TempFile zero("100\n0\n");
  CHECK(contains(error_of(zero.path), "line 2 (0) must be a finite number of microseconds"));
  TempFile huge("1e30\n");
  CHECK(contains(error_of(huge.path), "line 1 (1e30) must be a finite number"));
  TempFile nan("NaN\n");
  CHECK(contains(error_of(nan.path), "line 1 (NaN) must be a finite number"));
  TempFile two("1 2\n");
  CHECK(contains(error_of(two.path), "line 1 ('1 2') is not a number"));
  TempFile empty("\n\n");
  CHECK(contains(error_of(empty.path), "holds no intervals"));
  CHECK(contains(error_of("/no/such/trace"), "cannot read /no/such/trace"));
  CHECK(contains(error_of("/tmp"), "cannot read /tmp"));
}

TEST_CASE("traces are bounded: line length and count are refused at once") {
  TempFile long_line(std::string(65, '1') + "\n");
  CHECK(contains(error_of(long_line.path), "line 1 is longer than 64 characters"));
  // /dev/zero never ends and has no newline: refused after its first 64 bytes.
  CHECK(contains(error_of("/dev/zero"), "line 1 is longer than 64 characters"));
  TempFile many("1\n2\n3\n4\n");
  CHECK(contains(error_of(many.path, 3), "holds more than 3 intervals"));
  CHECK(IntervalTrace::read_text(many.path, 4)->size() == 4);
}

TEST_CASE("a written trace maps back equal, and its bytes round-trip") {
  const auto trace = IntervalTrace::of_us({100.0, 0.5, 7.25, 3.0}, "gaps");
  TempFile file("");
  trace->write(file.path);
  const auto mapped = IntervalTrace::map(file.path);
  CHECK(mapped->size() == trace->size());
  CHECK(mapped->digest() == trace->digest());
  for (int64_t k = 0; k < 12; ++k) CHECK(mapped->arrival_ns(k) == trace->arrival_ns(k));
  const auto copy = IntervalTrace::from_bytes(trace->to_bytes());
  CHECK(copy->digest() == trace->digest());
  CHECK(copy->arrival_ns(5) == trace->arrival_ns(5));

  TempFile text("100\n");
  CHECK_THROWS_AS(IntervalTrace::map(text.path), InvalidArgument);
  CHECK_THROWS_AS(IntervalTrace::from_bytes("not a trace"), InvalidArgument);
  CHECK(IntervalTrace::of_us({1.0, 2.0}, "a")->digest() !=
        IntervalTrace::of_us({2.0, 1.0}, "a")->digest());
}
