// Messages on a pipe or socket, framed as Python's multiprocessing.Connection frames
// them: a 4-byte big-endian signed length, then that many bytes (a length of -1 is
// followed by an 8-byte big-endian length, for messages of 2 GiB and more).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace npn {

// Stateless blocking I/O: any thread may call these, as long as one descriptor has one
// reader and one writer at a time (frames must not interleave).

// Writes one whole frame. Throws std::system_error (EPIPE: the reader is gone; on a
// pipe, as opposed to a socket, SIGPIPE must be ignored, as Python does).
void write_frame(int fd, std::string_view payload);

// Reads one whole frame into `payload`. Returns false at end of file before a frame;
// throws std::system_error on an error or on end of file inside a frame.
bool read_frame(int fd, std::string& payload);

struct ReadyFds {
  std::vector<int> fds;      // readable, at end of file or hung up, in the order given
  bool interrupted = false;  // a signal arrived first (the caller may run its handlers)
};

// Waits until one of `fds` is ready or timeout_ns passes (< 0: no limit).
ReadyFds wait_readable(const std::vector<int>& fds, int64_t timeout_ns);

}  // namespace npn
