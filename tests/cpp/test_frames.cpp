// Framed messages on pipes and sockets, in multiprocessing.Connection's format.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <thread>

#include "common/clock.h"
#include "engine/frames.h"

using namespace npn;

namespace {

struct SocketPair {
  int a = -1;
  int b = -1;
  SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, &a) == 0); }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

}  // namespace

TEST_CASE("a frame is a big-endian 4-byte length and the payload") {
  SocketPair s;
  write_frame(s.a, "hello");
  char raw[9] = {};
  REQUIRE(::read(s.b, raw, sizeof raw) == 9);
  CHECK(std::string(raw, 4) == std::string("\0\0\0\5", 4));
  CHECK(std::string(raw + 4, 5) == "hello");
}

TEST_CASE("frames come back whole and in order, empty and large ones too") {
  SocketPair s;
  const std::string large(1 << 20, 'x');  // larger than the socket's buffer
  std::thread writer([&] {
    write_frame(s.a, "first");
    write_frame(s.a, "");
    write_frame(s.a, large);
  });
  std::string payload;
  REQUIRE(read_frame(s.b, payload));
  CHECK(payload == "first");
  REQUIRE(read_frame(s.b, payload));
  CHECK(payload.empty());
  REQUIRE(read_frame(s.b, payload));
  CHECK(payload == large);
  writer.join();
}

TEST_CASE("end of file before a frame is false, inside one an error") {
  SocketPair s;
  std::string payload;
  SUBCASE("before") {
    ::close(s.a);
    s.a = -1;
    CHECK_FALSE(read_frame(s.b, payload));
  }
  SUBCASE("inside") {
    REQUIRE(::write(s.a, "\0\0\0\10abc", 7) == 7);
    ::close(s.a);
    s.a = -1;
    CHECK_THROWS_AS(read_frame(s.b, payload), std::system_error);
  }
}

TEST_CASE("writing to a closed reader fails with EPIPE") {
  SocketPair s;
  ::close(s.b);
  s.b = -1;
  try {
    write_frame(s.a, "lost");
    FAIL("the write succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EPIPE);
  }
}

TEST_CASE("wait_readable returns the ready descriptors, or none at the timeout") {
  SocketPair first;
  SocketPair second;
  const int64_t start = now_ns();
  ReadyFds ready = wait_readable({first.b, second.b}, 30'000'000);
  CHECK(ready.fds.empty());
  CHECK_FALSE(ready.interrupted);
  CHECK(now_ns() - start >= 30'000'000);
  write_frame(second.a, "x");
  ready = wait_readable({first.b, second.b}, -1);
  REQUIRE(ready.fds.size() == 1);
  CHECK(ready.fds[0] == second.b);
}
