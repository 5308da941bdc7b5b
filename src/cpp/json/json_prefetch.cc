#include "json/json_prefetch.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "json/json_numbers.h"

namespace npn::json {
namespace {

constexpr int64_t kRegionBytes = int64_t{1} << 20;
// How many regions workers may run ahead of the parser (bounds held results).
constexpr int64_t kRegionsAhead = 6;
// Bytes read past a region for arrays that cross its end, before reading more.
constexpr int64_t kTailBytes = int64_t{64} << 10;
// Longer arrays are left to the parser rather than read into one buffer.
constexpr int64_t kMaxArrayBytes = int64_t{64} << 20;

bool is_number_start(char c) { return is_digit(c) || c == '-' || c == 'N' || c == 'I'; }

// Whitespace as the parser skips it, counting line breaks as it does: "\r\n",
// "\r" and "\n" each end one line.
struct LineCounter {
  const char* text;
  int64_t offset;
  PrefetchedArray& out;

  const char* skip(const char* s) {
    for (;;) {
      const char c = *s;
      if (c == ' ' || c == '\t') {
        ++s;
      } else if (c == '\n' || c == '\r') {
        const int64_t at = offset + (s - text);
        if (!(c == '\n' && at == out.cr_end)) ++out.line_breaks;
        if (c == '\r') out.cr_end = at + 1;
        out.last_line_start = at + 1;
        ++s;
      } else {
        return s;
      }
    }
  }
};

}  // namespace

bool parse_numeric_array(const char* text, const char* end, int64_t offset, size_t min_elements,
                         PrefetchedArray& out) {
  // Scratch kept per thread, so arrays do not regrow it; copied out at the exact size.
  thread_local std::vector<int64_t> ints;
  thread_local std::vector<double> reals;
  ints.clear();
  reals.clear();
  out = PrefetchedArray{};
  LineCounter ws{text, offset, out};
  const char* s = ws.skip(text + 1);
  NumberLiteral n;
  const char* after = scan_number(s, n);
  if (after == nullptr || after > end) return false;
  if (n.kind != NumberLiteral::Kind::kInt && n.kind != NumberLiteral::Kind::kFloat) return false;
  const auto kind = n.kind;
  bool all_float32 = true;
  for (;;) {
    if (kind == NumberLiteral::Kind::kInt) {
      ints.push_back(n.integer);
    } else {
      reals.push_back(n.real);
      all_float32 = all_float32 && is_float32(n.real);
    }
    s = ws.skip(after);
    if (s < end && *s == ']') break;
    if (s >= end || *s != ',') return false;
    s = ws.skip(s + 1);
    after = scan_number(s, n);
    if (after == nullptr || after > end || n.kind != kind) return false;
  }
  if ((kind == NumberLiteral::Kind::kInt ? ints.size() : reals.size()) < min_elements) return false;
  out.end_offset = offset + (s + 1 - text);
  if (kind == NumberLiteral::Kind::kInt) {
    out.kind = PrefetchedArray::Kind::kInt;
    out.ints.assign(ints.begin(), ints.end());
  } else if (all_float32) {
    out.kind = PrefetchedArray::Kind::kFloat32;
    out.reals32.assign(reals.begin(), reals.end());
  } else {
    out.kind = PrefetchedArray::Kind::kFloat;
    out.reals.assign(reals.begin(), reals.end());
  }
  return true;
}

ArrayPrefetcher::ArrayPrefetcher(int fd, int64_t file_size, int threads, size_t min_elements,
                                 int64_t min_array_bytes)
    : fd_(fd),
      file_size_(file_size),
      min_elements_(min_elements),
      min_array_bytes_(std::max<int64_t>(min_array_bytes, 2)) {
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ArrayPrefetcher::~ArrayPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

bool ArrayPrefetcher::take(int64_t offset, PrefetchedArray& out) {
  std::shared_ptr<Region> region;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = regions_.find(offset / kRegionBytes);
    if (found == regions_.end()) return false;
    region = found->second;
  }
  auto& entries = region->entries;
  const auto at = std::lower_bound(entries.begin(), entries.end(), offset,
                                   [](const auto& e, int64_t o) { return e->offset < o; });
  if (at == entries.end() || (*at)->offset != offset) return false;
  Entry& entry = **at;
  int state = kPending;
  if (entry.state.compare_exchange_strong(state, kClaimed, std::memory_order_acq_rel)) {
    return false;  // not started: the parser converts it, no worker will
  }
  if (state != kDone) return false;
  out = std::move(entry.array);
  entry.state.store(kClaimed, std::memory_order_relaxed);
  return true;
}

void ArrayPrefetcher::advance(int64_t offset) {
  parser_offset_.store(offset, std::memory_order_relaxed);
  const int64_t region = offset / kRegionBytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (region <= parser_region_) return;
    parser_region_ = region;
    regions_.erase(regions_.begin(), regions_.lower_bound(region));
  }
  wake_.notify_all();
}

bool ArrayPrefetcher::next_region(int64_t& region) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (stop_) return false;
    region = std::max(next_region_, parser_region_);
    if (region * kRegionBytes >= file_size_) return false;
    if (region <= parser_region_ + kRegionsAhead) break;
    wake_.wait(lock);
  }
  next_region_ = region + 1;
  return true;
}

void ArrayPrefetcher::work() {
  try {
    std::vector<char> buffer;
    int64_t region = 0;
    while (next_region(region)) scan_region(region, buffer);
  } catch (...) {
    // Out of memory or a read error: the parser converts what is left itself.
  }
}

// Reads [offset, offset + size) (clipped to the file) followed by kNumberPadding zeros.
bool ArrayPrefetcher::read_at(int64_t offset, size_t size, std::vector<char>& buffer) const {
  size = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(size), file_size_ - offset));
  if (buffer.size() < size + kNumberPadding) buffer.resize(size + kNumberPadding);  // once
  buffer.resize(size + kNumberPadding);  // shrinking keeps the storage: no refill
  std::memset(buffer.data() + size, 0, kNumberPadding);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_, buffer.data() + done, size - done,
                              static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Finds the candidate arrays opening in `region`, publishes them, then parses
// them last to first, so that a parser that catches up meets the worker once.
void ArrayPrefetcher::scan_region(int64_t region, std::vector<char>& buffer) {
  const int64_t start = region * kRegionBytes;
  const int64_t stop = std::min(start + kRegionBytes, file_size_);
  if (!read_at(start, static_cast<size_t>(stop - start + kTailBytes), buffer)) {
    throw std::runtime_error("read");
  }
  const char* data = buffer.data();
  const char* data_end = data + (buffer.size() - kNumberPadding);
  auto published = std::make_shared<Region>();
  std::vector<int64_t> lengths;  // text bytes of each entry's array; 0 = past the buffer
  const char* s = data;
  while ((s = static_cast<const char*>(std::memchr(
              s, '[', static_cast<size_t>(stop - start) - static_cast<size_t>(s - data)))) !=
         nullptr) {
    const char* first = s + 1;
    while (first < data_end &&
           (*first == ' ' || *first == '\t' || *first == '\n' || *first == '\r')) {
      ++first;
    }
    const auto* close =
        static_cast<const char*>(std::memchr(s, ']', static_cast<size_t>(data_end - s)));
    const int64_t length = close != nullptr ? close - s + 1 : 0;
    if ((first == data_end || is_number_start(*first)) &&
        (length == 0 || length >= min_array_bytes_)) {
      auto entry = std::make_unique<Entry>();
      entry->offset = start + (s - data);
      published->entries.push_back(std::move(entry));
      lengths.push_back(length);
    }
    ++s;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (region < parser_region_) return;  // the parser is past it already
    regions_[region] = published;
  }
  std::vector<char> extended;
  for (size_t k = published->entries.size(); k-- > 0;) {
    Entry& entry = *published->entries[k];
    // Last to first: once the parser is past one entry, it is past the rest.
    if (entry.offset < parser_offset_.load(std::memory_order_relaxed)) break;
    int state = kPending;
    if (!entry.state.compare_exchange_strong(state, kWorking, std::memory_order_acq_rel)) {
      continue;
    }
    bool ok = false;
    if (lengths[k] > 0) {
      const char* text = data + (entry.offset - start);
      ok = parse_numeric_array(text, text + lengths[k], entry.offset, min_elements_, entry.array);
    } else {
      // Crosses the buffered tail: read on until a ']' (or give up).
      for (int64_t size = 4 * kTailBytes; size <= kMaxArrayBytes; size *= 4) {
        if (!read_at(entry.offset, static_cast<size_t>(size), extended)) break;
        const char* text = extended.data();
        const size_t held = extended.size() - kNumberPadding;
        const auto* close = static_cast<const char*>(std::memchr(text, ']', held));
        if (close != nullptr) {
          ok = close - text + 1 >= min_array_bytes_ &&
               parse_numeric_array(text, close + 1, entry.offset, min_elements_, entry.array);
          break;
        }
        if (static_cast<int64_t>(held) < size) break;  // the file ends first
      }
      extended = {};
    }
    if (!ok) entry.array = PrefetchedArray{};
    entry.state.store(ok ? kDone : kRejected, std::memory_order_release);
  }
}

}  // namespace npn::json
