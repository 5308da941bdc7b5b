// The native progress forwarder: messages a parent reads while a run goes, its
// windows summing to the result's, and the parent's stop.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <numeric>
#include <string>
#include <thread>

#include "engine/frames.h"
#include "engine/progress_forwarder.h"
#include "engine/runner.h"
#include "models/native_models.h"

using namespace npn;

namespace {

std::shared_ptr<Pipeline> spin_pipeline(int64_t latency_ns) {
  SpinSettings s;
  s.latency_ns = latency_ns;
  return std::make_shared<NativePipeline>(std::make_shared<SpinModel>(s));
}

// The integers after each `"windows": [` entry's opening bracket: index, count.
std::vector<std::pair<int64_t, int64_t>> windows_of(const std::string& message) {
  std::vector<std::pair<int64_t, int64_t>> out;
  size_t at = message.find("\"windows\": [");
  REQUIRE(at != std::string::npos);
  at = message.find('[', at) + 1;
  while ((at = message.find('[', at)) != std::string::npos) {
    size_t end = 0;
    const int64_t index = std::stoll(message.substr(at + 1), &end);
    const size_t count_at = message.find(", ", at) + 2;
    out.emplace_back(index, std::stoll(message.substr(count_at)));
    at = count_at;
  }
  return out;
}

}  // namespace

TEST_CASE("progress messages carry every window of the run exactly once") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  RunSettings settings;
  settings.duration_s = 0.35;
  settings.window_s = 0.05;
  Runner runner(spin_pipeline(20'000), settings);
  runner.start();
  ForwarderSettings forwarding;
  forwarding.period_ns = 20'000'000;
  forwarding.histograms = true;
  ProgressForwarder forwarder(runner, fds[0], forwarding);
  const RunResult result = runner.wait();
  forwarder.finish();
  ::shutdown(fds[0], SHUT_WR);

  int messages = 0;
  int64_t expected_index = 0;
  int64_t counted = 0;
  std::string message;
  while (read_frame(fds[1], message)) {
    ++messages;
    CHECK(message.rfind("{\"event\": \"progress\", \"iterations\": ", 0) == 0);
    CHECK(message.find("\"p99_ns\": ") != std::string::npos);
    for (auto [index, count] : windows_of(message)) {
      CHECK(index == expected_index++);
      counted += count;
    }
  }
  CHECK(messages >= 5);  // about one per period while the run went
  CHECK(expected_index == static_cast<int64_t>(result.windows.size()));
  CHECK(counted == std::accumulate(result.windows.begin(), result.windows.end(), int64_t{0}));
  CHECK(counted == result.iterations());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a streamed run's windows can carry a token metric's histograms") {
  // What stability on a token metric judges in the parent: each window's TTFT (metric
  // 0) histogram, one value per request, so they add up to the requests.
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  StreamSpinSettings spin;
  spin.first_token_ns = 50'000;
  spin.token_ns = 10'000;
  spin.tokens = 3;
  RunSettings settings;
  settings.max_iterations = 200;
  settings.window_s = 0.002;
  settings.stream.enabled = true;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<StreamSpinModel>(spin)),
                settings);
  runner.start();
  ForwarderSettings forwarding;
  forwarding.period_ns = 5'000'000;
  forwarding.histograms = true;
  forwarding.metric = 0;
  ProgressForwarder forwarder(runner, fds[0], forwarding);
  const RunResult result = runner.wait();
  forwarder.finish();
  ::shutdown(fds[0], SHUT_WR);
  int64_t ttft_values = 0;
  std::string message;
  while (read_frame(fds[1], message)) {
    size_t at = message.find("\"windows\": [");
    REQUIRE(at != std::string::npos);
    while ((at = message.find(", \"", at)) != std::string::npos) {
      const size_t end = message.find('"', at + 3);
      ttft_values += Histogram::decode_base64(message.substr(at + 3, end - at - 3)).count();
      at = end;
    }
  }
  REQUIRE(result.tokens.has_value());
  CHECK(ttft_values == result.tokens->ttft.count());
  CHECK(ttft_values == 200);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a message from the parent stops the run, and so does its end of file") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  RunSettings settings;
  settings.duration_s = 60.0;  // only the stop ends it in time
  Runner runner(spin_pipeline(10'000), settings);
  runner.start();
  ForwarderSettings forwarding;
  forwarding.period_ns = 10'000'000;
  ProgressForwarder forwarder(runner, fds[0], forwarding);
  while (runner.live_iterations() == 0) std::this_thread::yield();  // measuring
  SUBCASE("stop") { write_frame(fds[1], "{\"cmd\": \"stop\"}"); }
  SUBCASE("end of file") { ::shutdown(fds[1], SHUT_WR); }
  const RunResult result = runner.wait();
  forwarder.finish();
  CHECK(result.stop_reason == StopReason::kStopRequested);
  CHECK(result.end_ns - result.start_ns < 30'000'000'000);
  CHECK(result.iterations() > 0);
  ::close(fds[0]);
  ::close(fds[1]);
}
