#include "engine/frames.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>

namespace npn {
namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// send() where fd is a socket, so that a closed reader is EPIPE, never SIGPIPE.
ssize_t write_some(int fd, const char* data, size_t size) {
  const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
  if (n >= 0 || errno != ENOTSOCK) return n;
  return ::write(fd, data, size);
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write_some(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("writing a message");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// False at end of file before the first byte; throws at end of file after it.
bool read_all(int fd, char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("reading a message");
    }
    if (n == 0) {
      if (done == 0) return false;
      throw std::system_error(EPIPE, std::generic_category(), "end of file inside a message");
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

uint64_t big_endian(const unsigned char* bytes, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) value = value << 8 | bytes[i];
  return value;
}

void put_big_endian(std::string& out, uint64_t value, int count) {
  for (int i = count - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i) & 0xff));
}

}  // namespace

void write_frame(int fd, std::string_view payload) {
  std::string header;
  if (payload.size() > INT32_MAX) {
    put_big_endian(header, 0xffffffffu, 4);
    put_big_endian(header, payload.size(), 8);
  } else {
    put_big_endian(header, payload.size(), 4);
  }
  if (payload.size() <= 16384) {  // one write: the reader never sees half a small frame
    header.append(payload);
    write_all(fd, header.data(), header.size());
  } else {
    write_all(fd, header.data(), header.size());
    write_all(fd, payload.data(), payload.size());
  }
}

bool read_frame(int fd, std::string& payload) {
  unsigned char header[8];
  if (!read_all(fd, reinterpret_cast<char*>(header), 4)) return false;
  uint64_t size = big_endian(header, 4);
  if (size == 0xffffffffu) {
    if (!read_all(fd, reinterpret_cast<char*>(header), 8)) {
      throw std::system_error(EPIPE, std::generic_category(), "end of file inside a message");
    }
    size = big_endian(header, 8);
  } else if (size > INT32_MAX) {
    throw std::system_error(EPROTO, std::generic_category(), "a message with a negative length");
  }
  payload.resize(size);
  if (size > 0 && !read_all(fd, payload.data(), size)) {
    throw std::system_error(EPIPE, std::generic_category(), "end of file inside a message");
  }
  return true;
}

ReadyFds wait_readable(const std::vector<int>& fds, int64_t timeout_ns) {
  std::vector<pollfd> polled;
  polled.reserve(fds.size());
  for (int fd : fds) polled.push_back(pollfd{fd, POLLIN, 0});
  int timeout_ms = -1;
  if (timeout_ns >= 0) {
    const int64_t ms = (timeout_ns + 999'999) / 1'000'000;  // never wake before the time
    timeout_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }
  ReadyFds ready;
  const int n = ::poll(polled.data(), polled.size(), timeout_ms);
  if (n < 0) {
    if (errno != EINTR) throw_errno("waiting for messages");
    ready.interrupted = true;
    return ready;
  }
  for (const pollfd& p : polled) {
    if (p.revents != 0) ready.fds.push_back(p.fd);
  }
  return ready;
}

}  // namespace npn
