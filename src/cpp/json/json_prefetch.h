// Parses the large numeric arrays of a JSON file ahead of the streaming parser,
// on worker threads, so converting numbers (most of the time of a tensor file
// written as number lists) runs in parallel with the parser.
//
// Workers read regions of the file with pread and, for each '[' in a region
// that opens what looks like an array of numbers, parse it with the parser's own
// number grammar. Positions are speculative (a '[' may lie inside a string):
// the parser asks take(offset) only at offsets where it is itself at a '[', and
// a result exists only when the bytes from there are exactly an array of
// numbers of one kind that the parser would have turned into the same typed
// array. Anything else (or not parsed yet) is left to the parser, so results
// never change: only who converts the numbers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace npn::json {

// A typed array parsed ahead: the values of one kind, where its text ends and
// the line breaks inside it (for the parser's line and column bookkeeping).
struct PrefetchedArray {
  enum class Kind { kInt, kFloat, kFloat32 } kind = Kind::kInt;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<float> reals32;
  int64_t end_offset = 0;       // just past the closing ']'
  int64_t line_breaks = 0;      // "\n", "\r\n" and "\r" inside, each one
  int64_t last_line_start = 0;  // offset just past the last line break
  int64_t cr_end = -1;          // offset just past the last '\r' inside, or -1
};

// Parses the array whose '[' is at text[0] (text at document offset `offset`,
// followed by json::kNumberPadding readable bytes before `end`): true and `out`
// filled when it is exactly an array of at least min_elements numbers of one kind.
bool parse_numeric_array(const char* text, const char* end, int64_t offset, size_t min_elements,
                         PrefetchedArray& out);

// Thread-safe for one consumer: take() and advance() from the parser's thread;
// the workers are internal and stop in the destructor.
class ArrayPrefetcher {
 public:
  ArrayPrefetcher(int fd, int64_t file_size, int threads, size_t min_elements,
                  int64_t min_array_bytes);
  ~ArrayPrefetcher();
  ArrayPrefetcher(const ArrayPrefetcher&) = delete;
  ArrayPrefetcher& operator=(const ArrayPrefetcher&) = delete;

  // The array opening at `offset` if a worker has parsed it; false leaves it to
  // the caller (and stops any worker from starting on it).
  bool take(int64_t offset, PrefetchedArray& out);
  // The parser has read up to `offset`: workers keep ahead of it; earlier
  // results are dropped.
  void advance(int64_t offset);

 private:
  enum State : int { kPending, kWorking, kDone, kRejected, kClaimed };
  struct Entry {
    int64_t offset = 0;
    std::atomic<int> state{kPending};
    PrefetchedArray array;
  };
  struct Region {
    std::vector<std::unique_ptr<Entry>> entries;  // by offset
  };

  void work();
  bool next_region(int64_t& region);
  void scan_region(int64_t region, std::vector<char>& buffer);
  bool read_at(int64_t offset, size_t size, std::vector<char>& buffer) const;

  const int fd_;
  const int64_t file_size_;
  const size_t min_elements_;
  const int64_t min_array_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;                                   // guarded by mutex_
  std::atomic<int64_t> parser_offset_{0};               // where the parser reads
  int64_t parser_region_ = 0;                           // guarded by mutex_
  int64_t next_region_ = 0;                             // guarded by mutex_
  std::map<int64_t, std::shared_ptr<Region>> regions_;  // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace npn::json
