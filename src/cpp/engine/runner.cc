#include "engine/runner.h"

#include <cxxabi.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeinfo>

#include "common/clock.h"
#include "common/errors.h"
#include "engine/scheduler.h"
#include "engine/wakeup.h"
#include "engine/windows.h"

namespace npn {
namespace {

// busy_since values besides a start timestamp (which is always > 0).
constexpr int64_t kIdle = 0;
constexpr int64_t kAbandoned = -1;

constexpr int64_t kAllWindows = INT64_MAX;

// A streamed run's per-worker token state, written by its worker only (like WorkerState).
struct WorkerTokens {
  TokenStats stats;
  std::array<Histogram, kTokenMetricCount> window;  // the current window's, by TokenMetric
  std::vector<RequestRecord> requests;              // with record_requests
};
// Distinct failure reasons kept per worker and per run; later ones are counted
// under kOtherReasons. Reasons longer than kMaxReasonChars are cut.
constexpr size_t kMaxFailureReasons = 32;
constexpr size_t kMaxReasonChars = 240;
constexpr const char* kOtherReasons = "other reasons";

void count_reason(std::map<std::string, int64_t>& reasons, const std::string& reason, int64_t n) {
  auto it = reasons.find(reason);
  if (it != reasons.end()) {
    it->second += n;
    return;
  }
  const size_t kept = reasons.size() - reasons.count(kOtherReasons);
  if (kept < kMaxFailureReasons) {
    reasons.emplace(reason, n);
  } else {
    reasons[kOtherReasons] += n;
  }
}

// Everything one worker measures. Written only by its worker until the worker
// finishes or is abandoned; read by the control thread after that.
struct alignas(64) WorkerState {
  std::array<Histogram, kStageCount> stages;
  Histogram warmup;
  std::atomic<int64_t> iterations{0};       // written by the worker only; read live (relaxed)
  int64_t failed = 0;                       // timed requests that failed (RequestFailed)
  std::map<std::string, int64_t> failures;  // their count per reason
  int64_t last_end_ns = 0;
  std::vector<int64_t> timestamps;
  std::unique_ptr<WorkerTokens> tokens;  // streamed runs only
  // The window this worker completes iterations in now: its completions and e2e
  // latencies, handed to the WindowStore when the worker moves past the window.
  int64_t window = 0;
  int64_t window_count = 0;
  Histogram window_latency;
  bool finished = false;               // guarded by Shared::mutex
  std::atomic<bool> abandoned{false};  // set by the watchdog
  // The lowest window this worker may still add completions to (release store after
  // handing the lower ones over); kAllWindows once it can add to none.
  alignas(64) std::atomic<int64_t> open_window{0};
  // Watchdog handshake: the worker stores its iteration start here and swaps it
  // back to kIdle when the iteration ends; the watchdog swaps a stale start to
  // kAbandoned. Whoever swaps first owns the state above.
  alignas(64) std::atomic<int64_t> busy_since{kIdle};
  std::atomic<int8_t> stage{static_cast<int8_t>(Stage::kE2E)};
};

}  // namespace

struct Runner::Shared {
  std::shared_ptr<Pipeline> pipeline;
  PipelineTraits traits;
  RunConfig config;
  std::vector<std::unique_ptr<WorkerState>> workers;
  std::optional<WindowStore> windows;  // keeps the token metrics too in streamed runs

  alignas(64) std::atomic<bool> stop{false};
  std::atomic<int8_t> stop_reason{static_cast<int8_t>(StopReason::kNone)};
  alignas(64) std::atomic<int64_t> claimed{0};  // timed iterations claimed (max_iterations only)

  std::mutex mutex;
  std::condition_variable cv;
  int arrived = 0;           // workers past warm-up
  int finished = 0;          // workers that exited normally
  bool timing = false;       // the start barrier opened
  int64_t start_ns = 0;      // timing start
  int64_t cpu_start_ns = 0;  // process CPU time at start_ns
  int64_t stop_ns = 0;       // when the first stop request arrived
  std::optional<ErrorInfo> error;
  std::optional<Dispatcher> dispatcher;  // open loop: created when the barrier opens

  // The first reason wins, except that a failure (error, timeout) replaces a
  // normal reason: a run whose call got stuck after its duration ended is a timeout.
  void request_stop(StopReason reason) {
    const bool failure = reason == StopReason::kError || reason == StopReason::kTimeout;
    int8_t current = stop_reason.load();
    while (true) {
      const auto cur = static_cast<StopReason>(current);
      const bool cur_failure = cur == StopReason::kError || cur == StopReason::kTimeout;
      if (cur != StopReason::kNone && (cur_failure || !failure)) break;
      if (stop_reason.compare_exchange_weak(current, static_cast<int8_t>(reason))) break;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!stop.load(std::memory_order_relaxed)) stop_ns = now_ns();
    stop.store(true, std::memory_order_release);
    cv.notify_all();
  }

  // Records why the run ends without stopping the workers: in open loop, the schedule
  // ended, and the requests already taken still run.
  void note_end(StopReason reason) {
    int8_t none = static_cast<int8_t>(StopReason::kNone);
    stop_reason.compare_exchange_strong(none, static_cast<int8_t>(reason));
  }

  // Counts a worker that ends without finishing normally (it never started, or its
  // error handling failed) as finished, so that the run can end.
  void worker_gone(int index) {
    WorkerState& w = *workers[static_cast<size_t>(index)];
    std::lock_guard<std::mutex> lock(mutex);
    if (w.finished || w.abandoned) return;
    w.finished = true;
    ++finished;
    w.open_window.store(kAllWindows, std::memory_order_release);
    cv.notify_all();
  }

  void record_error(ErrorInfo info, StopReason reason) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::move(info);
    }
    request_stop(reason);
  }
};

namespace {

using Shared = Runner::Shared;

std::string demangled_type(const std::exception& e) {
  int status = 0;
  char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string result = status == 0 && name ? name : typeid(e).name();
  std::free(name);
  return result;
}

std::string describe_seconds(int64_t ns) {
  std::string s = std::to_string(static_cast<double>(ns) / 1e9);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + " s";
}

// Hands the worker's current window to the store and publishes that it will add to
// no window below `next_window`. Called by the thread that owns the worker's state.
void hand_over_window(Shared& sh, WorkerState& st, int64_t next_window) {
  if (st.window_count > 0) {
    if (st.tokens) {
      sh.windows->add(st.window, st.window_count, st.window_latency, st.tokens->window.data());
      for (auto& h : st.tokens->window) h.reset();
    } else {
      sh.windows->add(st.window, st.window_count, st.window_latency);
    }
    st.window_latency.reset();
    st.window_count = 0;
  }
  st.window = next_window;
  st.open_window.store(next_window, std::memory_order_release);
}

// Opens the start barrier once every worker has warmed up. Returns false when
// the run stopped before timing began.
bool wait_for_start(Shared& sh) {
  std::unique_lock<std::mutex> lock(sh.mutex);
  if (++sh.arrived == sh.config.workers) {
    sh.start_ns = std::max(now_ns(), sh.config.start_at_ns);
    sh.cpu_start_ns = process_cpu_ns();
    if (sh.config.schedule) {
      const int64_t deadline =
          sh.config.duration_ns ? sh.start_ns + sh.config.duration_ns : INT64_MAX;
      sh.dispatcher.emplace(*sh.config.schedule, sh.start_ns, deadline, sh.config.max_iterations,
                            sh.config.window_ns);
    }
    sh.timing = true;
    sh.cv.notify_all();
  } else {
    sh.cv.wait(lock, [&] { return sh.timing || sh.stop.load(std::memory_order_relaxed); });
  }
  if (!sh.timing) return false;
  const int64_t start = sh.start_ns;
  lock.unlock();
  // With start_at_ns in the future (several processes starting together), every
  // worker sleeps to that instant; sleeping rather than spinning lets copies that
  // outnumber the cores all be woken at once.
  if (now_ns() < start) sleep_until_ns(start);
  return true;
}

using Boundaries = std::array<int64_t, kBoundaryCount>;

// An open-loop worker notices stop() while it sleeps for a request at least this often.
constexpr int64_t kStopCheckNs = 10'000'000;

// One worker: warm-up, barrier, then the closed or the open loop.
class Worker {
 public:
  Worker(Shared& sh, int index)
      : sh_(sh),
        cfg_(sh.config),
        t_(sh.traits),
        index_(index),
        st_(*sh.workers[index]),
        wakeup_(cfg_.spin_wait_ns, cfg_.spin_cap_ns, cfg_.learn_wakeup) {}

  void run() {
    std::unique_ptr<WorkerPipeline> pipeline;
    Stage stage = Stage::kE2E;
    bool in_warmup = true;
    int64_t watch_start = 0;
    try {
      pipeline = sh_.pipeline->make_worker(index_);
      p_ = pipeline.get();
      for (int64_t i = 0; i < cfg_.warmup && !stopped(); ++i) {
        watch_start = now_ns();
        bool more = true;
        try {
          more = warmup_iteration(watch_start, stage);
        } catch (const RequestFailed&) {
          more = end_watch(watch_start);  // a failed warm-up request is not an error
        }
        if (!more) break;
      }
      p_->leave();
      if (abandoned_) return;
      if (!stopped() && wait_for_start(sh_)) {
        in_warmup = false;
        window_end_ = sh_.start_ns + cfg_.window_ns;
        if (sh_.dispatcher) {
          open_loop(*sh_.dispatcher, stage, watch_start);
        } else {
          closed_loop(stage, watch_start);
        }
        p_->leave();
      }
    } catch (abi::__forced_unwind&) {
      throw;  // pthread_exit (CPython ending a thread at finalization): let it end the thread
    } catch (const WorkerExit&) {
      if (abandoned_ || !end_watch(watch_start)) return;  // the pipeline is not called again
    } catch (const StageError& e) {
      fail(ErrorInfo{e.type(), e.message(), e.traceback(), {}, index_}, stage, in_warmup,
           watch_start, pipeline.get());
      return;
    } catch (const std::exception& e) {
      fail(ErrorInfo{demangled_type(e), e.what(), {}, {}, index_}, stage, in_warmup, watch_start,
           pipeline.get());
      return;
    } catch (...) {
      fail(ErrorInfo{"unknown", "a non-standard C++ exception was thrown", {}, {}, index_}, stage,
           in_warmup, watch_start, pipeline.get());
      return;
    }
    if (!abandoned_) finish();
  }

 private:
  bool stopped() const { return sh_.stop.load(std::memory_order_relaxed); }

  void begin_watch(int64_t start) {
    if (cfg_.call_timeout_ns) st_.busy_since.store(start, std::memory_order_release);
  }
  void set_stage(Stage& stage, Stage s) {
    stage = s;
    if (cfg_.call_timeout_ns) st_.stage.store(static_cast<int8_t>(s), std::memory_order_relaxed);
  }
  // False when the watchdog abandoned this worker while the iteration ran.
  bool end_watch(int64_t start) {
    if (!cfg_.call_timeout_ns) return true;
    int64_t expected = start;
    if (st_.busy_since.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel) ||
        expected == kIdle) {
      return true;
    }
    abandoned_ = true;
    return false;
  }

  bool warmup_iteration(int64_t b0, Stage& stage) {
    begin_watch(b0);
    set_stage(stage, Stage::kGilWait);
    p_->enter();
    set_stage(stage, Stage::kInput);
    if (!p_->next_input()) {
      if (end_watch(b0)) sh_.request_stop(StopReason::kInputsExhausted);
      return false;
    }
    if (t_.has_preprocess) {
      set_stage(stage, Stage::kPreprocess);
      p_->preprocess();
    }
    set_stage(stage, Stage::kInfer);
    infer();
    if (t_.has_postprocess) {
      set_stage(stage, Stage::kPostprocess);
      p_->postprocess();
    }
    const int64_t end = now_ns();
    if (!end_watch(b0)) return false;
    st_.warmup.record(end - b0);
    p_->between_iterations(end);
    return true;
  }

  // One iteration from its actual start b[1]: fills b[2..6]. False when the run
  // ends here (inputs exhausted, or the watchdog abandoned this worker).
  bool iterate(Boundaries& b, Stage& stage) {
    begin_watch(b[1]);
    set_stage(stage, Stage::kGilWait);
    b[2] = p_->enter() ? now_ns() : b[1];
    set_stage(stage, Stage::kInput);
    if (!p_->next_input()) {
      if (end_watch(b[1])) sh_.request_stop(StopReason::kInputsExhausted);
      return false;
    }
    b[3] = t_.timed_input ? now_ns() : b[2];
    if (t_.has_preprocess) {
      set_stage(stage, Stage::kPreprocess);
      p_->preprocess();
      b[4] = now_ns();
    } else {
      b[4] = b[3];
    }
    set_stage(stage, Stage::kInfer);
    infer();
    b[5] = now_ns();
    if (t_.has_postprocess) {
      set_stage(stage, Stage::kPostprocess);
      p_->postprocess();
      b[6] = now_ns();
    } else {
      b[6] = b[5];
    }
    return end_watch(b[1]);
  }

  // The model call: a plain call, or a streamed response drawn into the sink.
  void infer() {
    if (!cfg_.stream.enabled) {
      p_->infer();
      return;
    }
    sink_.reset();
    p_->infer_stream(sink_);
  }

  // A timed streamed request's token metrics, and its record when asked for.
  void record_tokens(const Boundaries& b) {
    WorkerTokens& t = *st_.tokens;
    record_request(cfg_.stream, sink_, b[0], b[6] - b[0], t.stats, t.window.data());
    if (!cfg_.stream.record_requests) return;
    t.requests.push_back(RequestRecord{index_, b[0], b[1], sink_.items() ? sink_.first_ns() : -1,
                                       sink_.items() ? sink_.last_ns() : -1, b[6],
                                       sink_.input_tokens(), sink_.tokens(), sink_.items()});
  }

  enum class Outcome : int8_t { kCompleted, kFailed, kEnded };

  // iterate(), where a RequestFailed counts the request as failed (untimed) and ends
  // the iteration at b[6]; kEnded when the run ends here.
  Outcome attempt(Boundaries& b, Stage& stage) {
    try {
      return iterate(b, stage) ? Outcome::kCompleted : Outcome::kEnded;
    } catch (const RequestFailed& e) {
      if (!end_watch(b[1])) return Outcome::kEnded;
      b[6] = now_ns();
      ++st_.failed;
      std::string reason = e.what();
      if (reason.size() > kMaxReasonChars) {
        size_t cut = kMaxReasonChars;  // back to a character's first byte (UTF-8)
        while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
        reason.resize(cut);
      }
      count_reason(st_.failures, reason, 1);
      return Outcome::kFailed;
    }
  }

  template <bool kOpenLoop>
  void record(const Boundaries& b) {
    auto& hist = st_.stages;
    const int64_t e2e = b[6] - b[0];
    hist[static_cast<size_t>(Stage::kE2E)].record(e2e);
    hist[static_cast<size_t>(Stage::kInfer)].record(b[5] - b[4]);
    if (kOpenLoop) hist[static_cast<size_t>(Stage::kScheduleLag)].record(b[1] - b[0]);
    if (t_.shared_lock) hist[static_cast<size_t>(Stage::kGilWait)].record(b[2] - b[1]);
    if (t_.timed_input) hist[static_cast<size_t>(Stage::kInput)].record(b[3] - b[2]);
    if (t_.has_preprocess) hist[static_cast<size_t>(Stage::kPreprocess)].record(b[4] - b[3]);
    if (t_.has_postprocess) hist[static_cast<size_t>(Stage::kPostprocess)].record(b[6] - b[5]);
    if (b[6] >= window_end_) move_to_window((b[6] - sh_.start_ns) / cfg_.window_ns);
    if (st_.tokens) record_tokens(b);
    st_.window_latency.record(e2e);
    ++st_.window_count;
    if (cfg_.record_timestamps) st_.timestamps.insert(st_.timestamps.end(), b.begin(), b.end());
    st_.iterations.store(st_.iterations.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    st_.last_end_ns = b[6];
  }

  void move_to_window(int64_t window) {
    hand_over_window(sh_, st_, window);
    window_end_ = sh_.start_ns + (window + 1) * cfg_.window_ns;
  }

  // Each iteration starts where the previous one ended.
  void closed_loop(Stage& stage, int64_t& watch_start) {
    const int64_t deadline = cfg_.duration_ns ? sh_.start_ns + cfg_.duration_ns : INT64_MAX;
    const bool limit_iterations = cfg_.max_iterations > 0;
    const ClosedLoopSchedule schedule;
    int64_t previous_end = now_ns();  // workers may wake a little after start
    Boundaries b{};
    while (!stopped()) {
      if (limit_iterations &&
          sh_.claimed.fetch_add(1, std::memory_order_relaxed) >= cfg_.max_iterations) {
        sh_.request_stop(StopReason::kMaxIterations);
        break;
      }
      b[0] = b[1] = schedule.next_start_ns(previous_end);
      watch_start = b[1];
      const Outcome outcome = attempt(b, stage);
      if (outcome == Outcome::kEnded) return;
      if (outcome == Outcome::kCompleted) record<false>(b);
      previous_end = b[6];
      if (b[6] >= deadline) {
        sh_.request_stop(StopReason::kDuration);
        break;
      }
      p_->between_iterations(b[6]);
    }
  }

  // Each iteration serves the next request of the schedule; latency counts from the
  // time it was due (b[0]), so time spent waiting for a free worker is measured.
  void open_loop(Dispatcher& dispatcher, Stage& stage, int64_t& watch_start) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // this worker's sleeps end on time
    int64_t now = now_ns();
    Boundaries b{};
    Dispatcher::Request request{};
    while (!stopped()) {
      if (!dispatcher.take(now, request)) {
        const bool by_duration = dispatcher.end() == ScheduleEnd::kDuration;
        sh_.note_end(by_duration ? StopReason::kDuration : StopReason::kMaxIterations);
        // The run lasts its duration even when its last request came early (a low rate):
        // its figures are per second of the whole duration.
        if (by_duration && cfg_.duration_ns) wait_out(sh_.start_ns + cfg_.duration_ns);
        return;
      }
      if (request.scheduled_ns > now) {
        if (!wait_until(request.scheduled_ns)) return;
        now = now_ns();
      }
      b[0] = request.scheduled_ns;
      b[1] = now;
      watch_start = b[1];
      const Outcome outcome = attempt(b, stage);
      if (outcome == Outcome::kEnded) return;
      if (outcome == Outcome::kCompleted) record<true>(b);
      now = b[6];
      p_->between_iterations(b[6]);
    }
  }

  // Waits for a request due at due_ns: sleeps (giving up the GIL, and handing over
  // the current window when the wait crosses its end) until the learned wake-up margin
  // before it, then spins the rest. False when the run was stopped meanwhile.
  bool wait_until(int64_t due_ns) {
    if (t_.shared_lock) p_->leave();
    const int64_t wake_ns = due_ns - wakeup_.margin_ns();
    int64_t now = now_ns();
    if (now < wake_ns) {
      const int64_t window = (due_ns - sh_.start_ns) / cfg_.window_ns;
      if (window > st_.window) move_to_window(window);
      if (!sleep_until(wake_ns, now)) return false;
      wakeup_.observe(now - wake_ns);
    }
    while (now < due_ns) now = now_ns();
    return !stopped();
  }

  // Sleeps until wake_ns in slices that notice stop(); `now` ends as the time the last
  // sleep returned. False when the run was stopped meanwhile.
  bool sleep_until(int64_t wake_ns, int64_t& now) {
    while (now < wake_ns) {
      if (stopped()) return false;
      clock_sleep_until_ns(std::min(wake_ns, now + kStopCheckNs));
      now = now_ns();
    }
    return true;
  }

  // The schedule has ended before the run's deadline: this worker will complete
  // nothing more, so it hands its windows over (pollers see them close as time
  // passes) and sleeps until the deadline (or a stop), keeping the run its full length.
  void wait_out(int64_t deadline_ns) {
    if (t_.shared_lock) p_->leave();
    hand_over_window(sh_, st_, kAllWindows);
    int64_t now = now_ns();
    sleep_until(deadline_ns, now);
    const int64_t span = std::min(now, deadline_ns) - sh_.start_ns;
    sh_.windows->cover((span + cfg_.window_ns - 1) / cfg_.window_ns);  // the empty ones too
  }

  void fail(ErrorInfo info, Stage stage, bool in_warmup, int64_t watch_start,
            WorkerPipeline* pipeline) {
    // An exception inside an iteration: if the watchdog already abandoned this
    // worker, the state is no longer ours to touch.
    if (abandoned_ || !end_watch(watch_start)) {
      if (pipeline) pipeline->leave();
      return;
    }
    info.stage = in_warmup ? "warmup" : std::string(stage_name(stage));
    if (pipeline) pipeline->leave();
    sh_.record_error(std::move(info), StopReason::kError);
    finish();
  }

  void finish() {
    hand_over_window(sh_, st_, kAllWindows);
    std::lock_guard<std::mutex> lock(sh_.mutex);
    st_.finished = true;
    ++sh_.finished;
    sh_.cv.notify_all();
  }

  Shared& sh_;
  const RunConfig& cfg_;
  const PipelineTraits& t_;
  const int index_;
  WorkerState& st_;
  WorkerPipeline* p_ = nullptr;
  StreamSink sink_;  // the current request's items (streamed runs)
  bool abandoned_ = false;
  int64_t window_end_ = 0;  // the end of st_.window on the shared clock
  WakeupMargin wakeup_;
};

void worker_main(const std::shared_ptr<Shared>& shared, int index) {
  try {
    Worker(*shared, index).run();
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (...) {
    shared->worker_gone(index);  // failing to report a failure must not hang the run
  }
}

// Abandons workers whose current iteration has run longer than the call timeout.
void check_watchdog(Shared& sh) {
  const int64_t now = now_ns();
  for (size_t i = 0; i < sh.workers.size(); ++i) {
    WorkerState& w = *sh.workers[i];
    int64_t since = w.busy_since.load(std::memory_order_acquire);
    if (since <= 0 || now - since <= sh.config.call_timeout_ns) continue;
    if (!w.busy_since.compare_exchange_strong(since, kAbandoned, std::memory_order_acq_rel)) {
      continue;  // the iteration ended just now
    }
    // The stuck worker will not touch its state again: hand its window over for it.
    hand_over_window(sh, w, kAllWindows);
    w.abandoned.store(true);
    const Stage stage = static_cast<Stage>(w.stage.load(std::memory_order_relaxed));
    const bool timing = [&] {
      std::lock_guard<std::mutex> lock(sh.mutex);
      return sh.timing;
    }();
    ErrorInfo info;
    info.type = "Timeout";
    info.message = "worker " + std::to_string(i) + ": the " +
                   std::string(timing ? stage_name(stage) : "warmup") +
                   " call did not return within call_timeout_s (" +
                   describe_seconds(sh.config.call_timeout_ns) + "); the thread was abandoned";
    info.stage = timing ? std::string(stage_name(stage)) : "warmup";
    info.worker = static_cast<int>(i);
    sh.record_error(std::move(info), StopReason::kTimeout);
  }
}

OpenLoopResult open_loop_result(Shared& sh, const RunResult& r) {
  const Dispatcher::Summary summary = sh.dispatcher->finish(sh.stop_ns ? sh.stop_ns : now_ns());
  OpenLoopResult o;
  o.arrival = sh.config.schedule->arrival();
  o.request_rate_target = sh.config.schedule->mean_rate_per_s();
  if (summary.issue_span_ns > 0) {
    o.achieved_rate =
        static_cast<double>(r.iterations()) * 1e9 / static_cast<double>(summary.issue_span_ns);
  }
  o.requests_due = summary.due;
  o.backlog_max = summary.backlog_max;
  o.backlog_end = summary.backlog_end;
  o.saturated = saturated(summary, sh.config.workers, r.windows.size());
  o.window_backlog = summary.window_backlog;
  return o;
}

RunResult merge_results(Shared& sh) {
  RunResult r;
  const auto reason = static_cast<StopReason>(sh.stop_reason.load());
  r.stop_reason = reason;
  r.status = status_for(reason);
  r.error = sh.error;
  r.window_ns = sh.config.window_ns;
  r.timestamps_recorded = sh.config.record_timestamps;
  r.start_ns = sh.timing ? sh.start_ns : sh.stop_ns;
  r.end_ns = r.start_ns;
  size_t n_timestamps = 0;
  for (const auto& w : sh.workers) {
    r.end_ns = std::max(r.end_ns, w->last_end_ns);
    n_timestamps += w->timestamps.size();
  }
  r.timestamps.reserve(n_timestamps);
  for (const auto& w : sh.workers) {
    for (size_t s = 0; s < kStageCount; ++s) r.stages[s].merge(w->stages[s]);
    r.warmup.merge(w->warmup);
    r.worker_iterations.push_back(w->iterations.load(std::memory_order_relaxed));
    r.abandoned_workers += w->abandoned ? 1 : 0;
    r.requests_failed += w->failed;
    for (const auto& [why, n] : w->failures) count_reason(r.failure_reasons, why, n);
    r.timestamps.insert(r.timestamps.end(), w->timestamps.begin(), w->timestamps.end());
  }
  if (sh.dispatcher && reason == StopReason::kDuration && sh.config.duration_ns) {
    // An open loop ended by its schedule ran its whole duration (the workers waited it
    // out, unless stopped meanwhile): its span and windows cover that, even where no
    // request completed.
    int64_t until = r.start_ns + sh.config.duration_ns;
    if (sh.stop_ns) until = std::min(until, std::max(sh.stop_ns, r.start_ns));
    r.end_ns = std::max(r.end_ns, until);
  }
  r.windows = sh.windows->counts();
  r.window_histograms = sh.windows->histograms(r.window_histogram_span);
  if (sh.config.stream.enabled) {
    r.tokens.emplace();
    size_t n_requests = 0;
    for (const auto& w : sh.workers) n_requests += w->tokens->requests.size();
    r.requests.reserve(n_requests);
    for (const auto& w : sh.workers) {
      r.tokens->merge(w->tokens->stats);
      r.requests.insert(r.requests.end(), w->tokens->requests.begin(), w->tokens->requests.end());
    }
    for (int m = 0; m < kTokenMetricCount; ++m) {
      int64_t span = 1;
      r.token_window_histograms.push_back(sh.windows->histograms(span, m));
    }
  }
  if (sh.dispatcher) r.open_loop = open_loop_result(sh, r);
  r.cpu_ns = sh.timing ? process_cpu_ns() - sh.cpu_start_ns : 0;
  return r;
}

}  // namespace

Runner::Runner(std::shared_ptr<Pipeline> pipeline, const RunSettings& settings)
    : shared_(std::make_shared<Shared>()) {
  if (!pipeline) throw InvalidArgument("pipeline must not be null");
  shared_->traits = pipeline->traits();
  shared_->config = make_run_config(settings, shared_->traits);
  shared_->pipeline = std::move(pipeline);
  const bool streaming = shared_->config.stream.enabled;
  shared_->windows.emplace(Histogram::kDefaultLowest, Histogram::kDefaultHighest,
                           Histogram::kDefaultDigits, streaming ? kTokenMetricCount : 0);
  try {
    for (int i = 0; i < shared_->config.workers; ++i) {
      shared_->workers.push_back(std::make_unique<WorkerState>());
      if (streaming) shared_->workers.back()->tokens = std::make_unique<WorkerTokens>();
    }
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("not enough memory for workers=" + std::to_string(shared_->config.workers) +
                      ": each reserves about 2.4 MB (4.5 MB streaming) of address space for its "
                      "histograms (of which a run touches a few pages) and a 1 MiB thread stack");
  }
}

Runner::~Runner() {
  if (started_ && !waited_) {
    stop();
    wait();
  }
}

const RunConfig& Runner::config() const noexcept { return shared_->config; }

void Runner::start() {
  if (started_) throw std::logic_error("Runner.start() was already called");
  started_ = true;
  Shared& sh = *shared_;
  const int n = sh.config.workers;
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    try {
      threads_.push_back(Thread::start([shared = shared_, i] { worker_main(shared, i); }));
    } catch (const std::exception& e) {
      ErrorInfo info;
      info.type = "ThreadError";
      info.message = "could not start worker thread " + std::to_string(i + 1) + " of " +
                     std::to_string(n) + " (workers=" + std::to_string(n) + "): " + e.what();
      info.stage = "start";
      sh.record_error(std::move(info), StopReason::kError);
      for (int j = i; j < n; ++j) sh.worker_gone(j);
      return;
    }
  }
}

void Runner::stop() noexcept { shared_->request_stop(StopReason::kStopRequested); }

bool Runner::done() const noexcept {
  Shared& sh = *shared_;
  std::lock_guard<std::mutex> lock(sh.mutex);
  int abandoned = 0;
  for (const auto& w : sh.workers) abandoned += w->abandoned ? 1 : 0;
  return waited_ || (started_ && sh.finished + abandoned == sh.config.workers);
}

int64_t Runner::live_iterations() const noexcept {
  int64_t total = 0;
  for (const auto& w : shared_->workers) total += w->iterations.load(std::memory_order_relaxed);
  return total;
}

std::vector<LiveWindow> Runner::poll_windows() {
  Shared& sh = *shared_;
  int64_t start = 0;
  bool finished = false;
  {
    std::lock_guard<std::mutex> lock(sh.mutex);
    if (!sh.timing) return {};
    start = sh.start_ns;
    int abandoned = 0;
    for (const auto& w : sh.workers) abandoned += w->abandoned ? 1 : 0;
    finished = sh.finished + abandoned == sh.config.workers;
  }
  int64_t closed_before = kAllWindows;
  for (const auto& w : sh.workers) {
    closed_before = std::min(closed_before, w->open_window.load(std::memory_order_acquire));
  }
  if (finished) {
    closed_before = sh.windows->size();  // every worker is done: every window is closed
  } else {
    // Only windows that have ended (workers that wait out an open loop's deadline
    // have handed over every window).
    const int64_t now = now_ns();
    closed_before = std::min(closed_before, now > start ? (now - start) / sh.config.window_ns : 0);
  }
  return sh.windows->take_closed(closed_before, start, sh.config.window_ns);
}

RunResult Runner::wait(const Poll& poll, int64_t poll_interval_ns) {
  if (waited_) throw std::logic_error("Runner.wait() was already called");
  if (!started_) start();
  Shared& sh = *shared_;
  int64_t tick_ns = poll ? poll_interval_ns : 100'000'000;
  if (sh.config.call_timeout_ns) {
    tick_ns = std::min(tick_ns, std::max<int64_t>(sh.config.call_timeout_ns / 8, 100'000));
  }
  auto all_done = [&] {
    int abandoned = 0;
    for (const auto& w : sh.workers) abandoned += w->abandoned ? 1 : 0;
    return sh.finished + abandoned == sh.config.workers;
  };
  std::unique_lock<std::mutex> lock(sh.mutex);
  int64_t next_poll = now_ns() + poll_interval_ns;
  bool poll_stopped = false;
  while (!all_done()) {
    sh.cv.wait_for(lock, std::chrono::nanoseconds(tick_ns));
    if (all_done()) break;
    lock.unlock();
    if (sh.config.call_timeout_ns) check_watchdog(sh);
    if (poll && !poll_stopped && now_ns() >= next_poll) {
      // Once a poll asked to stop, it is not asked again (a second Ctrl-C is not
      // swallowed while the workers finish their calls).
      poll_stopped = poll();
      if (poll_stopped) sh.request_stop(StopReason::kStopRequested);
      next_poll = now_ns() + poll_interval_ns;
    }
    lock.lock();
  }
  lock.unlock();
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (sh.workers[i]->abandoned) {
      threads_[i].detach();
    } else {
      threads_[i].join();
    }
  }
  waited_ = true;
  return merge_results(sh);
}

}  // namespace npn
