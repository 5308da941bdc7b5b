#include "engine/interval_trace.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <utility>

#include "common/errors.h"
#include "json/json_numbers.h"

namespace npn {
namespace {

constexpr std::array<char, 8> kMagic = {'N', 'P', 'N', 'T', 'R', 'A', 'C', '1'};
constexpr size_t kReadBytes = size_t{1} << 20;

// The header of a written trace; the count + 1 offsets follow it.
struct Header {
  std::array<char, 8> magic;
  int64_t count;
  int64_t max_interval_ns;
  uint64_t digest;
  std::array<int64_t, 4> reserved;
};
static_assert(sizeof(Header) == 64, "the header is 64 bytes");

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string system_error_text(int error) { return std::strerror(error); }

// An fd closed when it goes out of scope.
struct File {
  int fd = -1;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

class TextReader {
 public:
  TextReader(std::string path, int64_t max_intervals)
      : path_(std::move(path)), max_intervals_(max_intervals) {}

  std::pair<std::vector<int64_t>, int64_t> read() {
    File file;
    file.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (file.fd < 0) fail_read(errno);
    struct stat info {};
    if (::fstat(file.fd, &info) == 0 && S_ISDIR(info.st_mode)) fail_read(EISDIR);
    if (::fstat(file.fd, &info) == 0 && S_ISREG(info.st_mode)) {
      // At most one interval per two bytes ("1\n"): reserve no more than that.
      const auto estimate = static_cast<int64_t>(info.st_size / 2) + 2;
      offsets_.reserve(static_cast<size_t>(std::min(estimate, max_intervals_ + 1)));
    }
    offsets_.push_back(0);
    std::vector<char> buffer(kReadBytes);
    std::string carried;  // the start of a line that continues in the next read
    while (true) {
      const ssize_t n = ::read(file.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_read(errno);
      if (n == 0) break;
      const char* p = buffer.data();
      const char* const end = p + n;
      while (p < end) {
        const auto* newline = static_cast<const char*>(std::memchr(p, '\n', end - p));
        const char* stop = newline ? newline : end;
        if (carried.size() + static_cast<size_t>(stop - p) > IntervalTrace::kMaxLineBytes) {
          fail_line("is longer than " + std::to_string(IntervalTrace::kMaxLineBytes) +
                    " characters: expected one interval (microseconds) per line");
        }
        carried.append(p, stop);
        if (!newline) break;
        line(carried);
        carried.clear();
        p = newline + 1;
      }
    }
    if (!carried.empty()) line(carried);
    if (offsets_.size() == 1) {
      throw InvalidArgument(path_ + " holds no intervals (one per line, in microseconds)");
    }
    return {std::move(offsets_), max_interval_ns_};
  }

 private:
  [[noreturn]] void fail_read(int error) const {
    throw InvalidArgument("cannot read " + path_ + ": " + system_error_text(error));
  }
  [[noreturn]] void fail_line(const std::string& what) const {
    throw InvalidArgument(path_ + " line " + std::to_string(line_number_ + 1) + " " + what);
  }

  void line(const std::string& raw) {
    const size_t first = raw.find_first_not_of(" \t\r\f\v");
    if (first == std::string::npos) {
      ++line_number_;
      return;  // blank lines (a trailing newline) hold no interval
    }
    const size_t last = raw.find_last_not_of(" \t\r\f\v");
    const std::string text = raw.substr(first, last - first + 1);
    std::array<char, IntervalTrace::kMaxLineBytes + json::kNumberPadding + 1> padded{};
    std::memcpy(padded.data(), text.data(), text.size());
    json::NumberLiteral literal;
    const char* end = json::scan_number(padded.data(), literal);
    using Kind = json::NumberLiteral::Kind;
    if (end != padded.data() + text.size()) {
      fail_line("('" + text + "') is not a number of microseconds");
    }
    double us = 0.0;
    if (literal.kind == Kind::kInt) us = static_cast<double>(literal.integer);
    if (literal.kind == Kind::kFloat) us = literal.real;
    const bool huge = literal.kind == Kind::kBigInt || literal.kind == Kind::kHugeFloat;
    if (huge || !std::isfinite(us) || us < IntervalTrace::kMinIntervalUs ||
        us > IntervalTrace::kMaxIntervalUs) {
      std::ostringstream what;
      what << "(" << text << ") must be a finite number of microseconds in ["
           << IntervalTrace::kMinIntervalUs << ", " << IntervalTrace::kMaxIntervalUs << "]";
      fail_line(what.str());
    }
    if (static_cast<int64_t>(offsets_.size()) > max_intervals_) {
      throw InvalidArgument(path_ + " holds more than " + std::to_string(max_intervals_) +
                            " intervals, the most a trace may have");
    }
    const int64_t gap = std::llround(us * 1e3);
    max_interval_ns_ = std::max(max_interval_ns_, gap);
    offsets_.push_back(std::min(offsets_.back() + gap, IntervalTrace::kHorizonNs));
    ++line_number_;
  }

  const std::string path_;
  const int64_t max_intervals_;
  std::vector<int64_t> offsets_;
  int64_t max_interval_ns_ = 0;
  int64_t line_number_ = 0;  // lines completed
};

}  // namespace

IntervalTrace::~IntervalTrace() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
}

std::shared_ptr<const IntervalTrace> IntervalTrace::of_ns(std::vector<int64_t> offsets_ns,
                                                          int64_t max_interval_ns) {
  std::shared_ptr<IntervalTrace> trace(new IntervalTrace());
  trace->owned_ = std::move(offsets_ns);
  trace->offsets_ = trace->owned_.data();
  trace->count_ = static_cast<int64_t>(trace->owned_.size()) - 1;
  trace->max_interval_ns_ = max_interval_ns;
  uint64_t digest = mix64(static_cast<uint64_t>(trace->count_));
  for (int64_t offset : trace->owned_) digest = mix64(digest ^ static_cast<uint64_t>(offset));
  trace->digest_ = digest;
  return trace;
}

std::shared_ptr<const IntervalTrace> IntervalTrace::read_text(const std::string& path,
                                                              int64_t max_intervals) {
  if (max_intervals < 1 || max_intervals > kMaxIntervals) {
    throw InvalidArgument("max_intervals must be in [1, " + std::to_string(kMaxIntervals) +
                          "], got " + std::to_string(max_intervals));
  }
  auto [offsets, max_interval] = TextReader(path, max_intervals).read();
  return of_ns(std::move(offsets), max_interval);
}

std::shared_ptr<const IntervalTrace> IntervalTrace::of_us(const std::vector<double>& intervals_us,
                                                          const std::string& name) {
  if (intervals_us.empty()) throw InvalidArgument(name + " must not be empty");
  if (static_cast<int64_t>(intervals_us.size()) > kMaxIntervals) {
    throw InvalidArgument(name + " holds more than " + std::to_string(kMaxIntervals) +
                          " intervals, the most a trace may have");
  }
  std::vector<int64_t> offsets;
  offsets.reserve(intervals_us.size() + 1);
  offsets.push_back(0);
  int64_t max_interval = 0;
  for (size_t i = 0; i < intervals_us.size(); ++i) {
    const double us = intervals_us[i];
    if (!std::isfinite(us) || !(us >= kMinIntervalUs) || us > kMaxIntervalUs) {
      std::ostringstream message;
      message << name << "[" << i << "] must be a finite number of microseconds in ["
              << kMinIntervalUs << ", " << kMaxIntervalUs << "], got " << us;
      throw InvalidArgument(message.str());
    }
    const int64_t gap = std::llround(us * 1e3);
    max_interval = std::max(max_interval, gap);
    offsets.push_back(std::min(offsets.back() + gap, kHorizonNs));
  }
  return of_ns(std::move(offsets), max_interval);
}

void IntervalTrace::write(const std::string& path) const {
  File file;
  file.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (file.fd < 0) {
    throw InvalidArgument("cannot write " + path + ": " + system_error_text(errno));
  }
  const Header header{kMagic, count_, max_interval_ns_, digest_, {}};
  auto put = [&](const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t n = ::write(file.fd, p, bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw InvalidArgument("cannot write " + path + ": " + system_error_text(errno));
      p += n;
      bytes -= static_cast<size_t>(n);
    }
  };
  put(&header, sizeof header);
  const size_t offsets_bytes = static_cast<size_t>(count_ + 1) * sizeof(int64_t);
  put(offsets_, offsets_bytes);
  // Not truncated first: a reader may already map a file created at its final size.
  if (::ftruncate(file.fd, static_cast<off_t>(sizeof header + offsets_bytes)) != 0) {
    throw InvalidArgument("cannot write " + path + ": " + system_error_text(errno));
  }
}

std::string IntervalTrace::to_bytes() const {
  const Header header{kMagic, count_, max_interval_ns_, digest_, {}};
  const size_t offsets_bytes = static_cast<size_t>(count_ + 1) * sizeof(int64_t);
  std::string out(sizeof header + offsets_bytes, '\0');
  std::memcpy(out.data(), &header, sizeof header);
  std::memcpy(out.data() + sizeof header, offsets_, offsets_bytes);
  return out;
}

bool IntervalTrace::adopt(const char* data, size_t bytes) noexcept {
  if (bytes < sizeof(Header)) return false;
  Header header{};
  std::memcpy(&header, data, sizeof header);
  const bool sized = header.count >= 1 && header.count <= kMaxIntervals &&
                     bytes == sizeof(Header) + static_cast<size_t>(header.count + 1) * 8;
  if (header.magic != kMagic || !sized) return false;
  offsets_ = reinterpret_cast<const int64_t*>(data + sizeof(Header));
  count_ = header.count;
  max_interval_ns_ = header.max_interval_ns;
  digest_ = header.digest;
  return offsets_[0] == 0 && offsets_[count_] > 0;
}

std::shared_ptr<const IntervalTrace> IntervalTrace::from_bytes(std::string_view data) {
  std::shared_ptr<IntervalTrace> trace(new IntervalTrace());
  // The offsets must be 8-byte aligned: keep them in owned_.
  trace->owned_.resize((data.size() + 7) / 8);
  std::memcpy(trace->owned_.data(), data.data(), data.size());
  if (!trace->adopt(reinterpret_cast<const char*>(trace->owned_.data()), data.size())) {
    throw InvalidArgument("not an interval trace in IntervalTrace's written form");
  }
  return trace;
}

std::shared_ptr<const IntervalTrace> IntervalTrace::map(const std::string& path) {
  File file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) {
    throw InvalidArgument("cannot read trace " + path + ": " + system_error_text(errno));
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0 || !S_ISREG(info.st_mode) ||
      info.st_size < static_cast<off_t>(sizeof(Header))) {
    throw InvalidArgument(path + " is not an interval trace written by IntervalTrace.write");
  }
  const auto bytes = static_cast<size_t>(info.st_size);
  void* mapping =
      ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED | MAP_POPULATE, file.fd, 0);  // pre-faulted
  if (mapping == MAP_FAILED) {
    throw InvalidArgument("cannot map trace " + path + ": " + system_error_text(errno));
  }
  std::shared_ptr<IntervalTrace> trace(new IntervalTrace());
  trace->mapping_ = mapping;  // unmapped by the destructor, also when adopt() fails
  trace->mapping_bytes_ = bytes;
  if (!trace->adopt(static_cast<const char*>(mapping), bytes)) {
    throw InvalidArgument(path + " is not an interval trace written by IntervalTrace.write");
  }
  return trace;
}

int64_t IntervalTrace::arrival_ns(int64_t index) const noexcept {
  const int64_t cycle = cycle_ns();
  const int64_t cycles = index / count_;
  if (cycles > 0 && cycles >= kHorizonNs / cycle) return kHorizonNs;
  return std::min(cycles * cycle + offsets_[index % count_ + 1], kHorizonNs);
}

int64_t IntervalTrace::arrived_by(int64_t t_ns) const noexcept {
  if (t_ns < 0) return 0;
  const int64_t cycle = cycle_ns();
  const int64_t rest = t_ns % cycle;
  // Every interval is >= 1 ns, so cycle >= count_ and this product stays <= t_ns.
  const int64_t whole = (t_ns / cycle) * count_;
  const int64_t* first = offsets_ + 1;
  return whole + (std::upper_bound(first, first + count_, rest) - first);
}

}  // namespace npn
