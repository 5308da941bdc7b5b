#include "engine/progress_forwarder.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/frames.h"

namespace npn {

struct ProgressForwarder::State {
  Runner& runner;
  int fd;
  ForwarderSettings settings;
  int wake_fd = -1;       // finish() writes here to end the thread's wait at once
  bool listening = true;  // to the channel, until its first frame arrived
  int64_t p99_ns = 0;

  State(Runner& r, int channel, ForwarderSettings s)
      : runner(r), fd(channel), settings(std::move(s)) {}
  ~State() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // A window's histogram of the metric asked for, as a JSON string (null: none).
  std::string histogram_text(const LiveWindow& w) const {
    if (settings.metric < 0) return "\"" + w.histogram.encode_base64() + "\"";
    const auto m = static_cast<size_t>(settings.metric);
    return m < w.metrics.size() ? "\"" + w.metrics[m].encode_base64() + "\"" : "null";
  }

  // One progress message; false when the channel is gone.
  bool forward() {
    const std::vector<LiveWindow> closed = runner.poll_windows();
    if (!closed.empty()) {
      p99_ns = std::max(p99_ns, closed.back().histogram.value_at_percentile(99));
    }
    std::string message =
        "{\"event\": \"progress\", \"iterations\": " + std::to_string(runner.live_iterations()) +
        ", \"p99_ns\": " + std::to_string(p99_ns) + ", \"windows\": [";
    for (size_t i = 0; i < closed.size(); ++i) {
      const LiveWindow& w = closed[i];
      if (i > 0) message += ", ";
      message += "[" + std::to_string(w.index) + ", " + std::to_string(w.count) + ", ";
      message += settings.histograms ? histogram_text(w) : "null";
      message += "]";
    }
    message += "]}";
    try {
      write_frame(fd, message);
    } catch (const std::system_error&) {
      return false;
    }
    return true;
  }

  // Waits one period for the channel or the wake-up; false when the channel is gone.
  bool wait() {
    std::vector<int> fds{wake_fd};
    if (listening) fds.push_back(fd);
    const ReadyFds ready = wait_readable(fds, settings.period_ns);
    if (std::find(ready.fds.begin(), ready.fds.end(), fd) == ready.fds.end()) return true;
    std::string command;
    listening = false;  // the stop is the only command sent while a run goes
    runner.stop();
    return read_frame(fd, command);
  }

  void loop() {
    try {
      while (true) {
        uint64_t woken = 0;
        const bool finishing = ::read(wake_fd, &woken, sizeof woken) == sizeof woken;
        const bool done = finishing || runner.done();
        if (!forward()) break;
        if (done) return;
        if (!wait()) break;
      }
    } catch (const std::exception&) {
      // a channel that fails mid-frame is gone too
    }
    runner.stop();  // nobody hears this run any more
  }
};

ProgressForwarder::ProgressForwarder(Runner& runner, int fd, ForwarderSettings settings)
    : state_(std::make_shared<State>(runner, fd, std::move(settings))) {
  state_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state_->wake_fd < 0) {
    throw std::system_error(errno, std::generic_category(), "could not create an eventfd");
  }
  thread_ = Thread::start([state = state_] { state->loop(); }, size_t{256} << 10);
}

ProgressForwarder::~ProgressForwarder() { finish(); }

void ProgressForwarder::finish() noexcept {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  while (::write(state_->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  thread_.join();
}

}  // namespace npn
