// Bindings for native models, pipelines and the runner.
#include "engine/runner.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "bindings.h"
#include "common/clock.h"
#include "common/errors.h"
#include "engine/progress_forwarder.h"
#include "engine/stage.h"
#include "gil_arbiter.h"
#include "interpreter_exit.h"
#include "models/calibration.h"
#include "models/native_models.h"
#include "python_errors.h"
#include "python_pipeline.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

// -1 for "e2e", else the TokenMetric index of a token metric's name.
int token_metric_index(const std::string& name) {
  if (name == "e2e") return -1;
  for (size_t m = 0; m < kTokenMetricNames.size(); ++m) {
    if (kTokenMetricNames[m] == name) return static_cast<int>(m);
  }
  throw InvalidArgument("metric must be 'e2e' or a token metric (ttft, itl, tpot), got '" + name +
                        "'");
}

py::dict error_dict(const ErrorInfo& e) {
  py::dict d;
  d["type"] = e.type;
  d["message"] = e.message;
  d["traceback"] = e.traceback;
  d["stage"] = e.stage;
  d["worker"] = e.worker;
  return d;
}

// Hands a buffer of int64 values (T: int64_t, or a struct of int64 fields) to numpy
// without copying, as rows of `columns` values: the array owns the vector.
template <class T>
py::object rows_array(std::vector<T>&& values, int columns) {
  static_assert(sizeof(T) % sizeof(int64_t) == 0);
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  const size_t row_bytes = static_cast<size_t>(columns) * sizeof(int64_t);
  const auto rows = static_cast<py::ssize_t>(owned->size() * sizeof(T) / row_bytes);
  return py::array_t<int64_t>(
      {rows, static_cast<py::ssize_t>(columns)},
      {static_cast<py::ssize_t>(row_bytes), static_cast<py::ssize_t>(sizeof(int64_t))},
      reinterpret_cast<int64_t*>(owned->data()), owner);
}

py::dict tokens_dict(TokenStats&& t) {
  py::dict d;
  d["ttft"] = py::cast(std::move(t.ttft));
  d["itl"] = py::cast(std::move(t.itl));
  d["tpot"] = py::cast(std::move(t.tpot));
  d["input_tokens"] = py::cast(std::move(t.input_tokens));
  d["output_tokens"] = py::cast(std::move(t.output_tokens));
  d["requests"] = t.requests;
  d["empty_requests"] = t.empty_requests;
  d["good_requests"] = t.good_requests;
  d["input_tokens_total"] = t.input_tokens_total;
  d["output_tokens_total"] = t.output_tokens_total;
  d["user_rate_sum"] = t.user_rate_sum;
  d["user_rate_count"] = t.user_rate_count;
  return d;
}

py::dict open_loop_dict(const OpenLoopResult& o) {
  py::dict d;
  d["arrival"] = std::string(arrival_name(o.arrival));
  d["request_rate_target"] = o.request_rate_target;
  d["achieved_rate"] = o.achieved_rate;
  d["requests_due"] = o.requests_due;
  d["backlog_max"] = o.backlog_max;
  d["backlog_end"] = o.backlog_end;
  d["saturated"] = o.saturated;
  d["window_backlog"] = o.window_backlog;
  return d;
}

py::dict result_dict(RunResult&& r) {
  py::dict d;
  d["status"] = std::string(status_name(r.status));
  d["stop_reason"] = std::string(stop_reason_name(r.stop_reason));
  d["error"] = r.error ? py::object(error_dict(*r.error)) : py::object(py::none());
  py::dict stages;
  for (int s = 0; s < kStageCount; ++s) {
    stages[py::str(std::string(kStageNames[static_cast<size_t>(s)]))] =
        py::cast(std::move(r.stages[static_cast<size_t>(s)]));
  }
  d["stages"] = stages;
  d["warmup"] = py::cast(std::move(r.warmup));
  d["worker_iterations"] = r.worker_iterations;
  d["abandoned_workers"] = r.abandoned_workers;
  d["requests_failed"] = r.requests_failed;
  d["failure_reasons"] = r.failure_reasons;
  d["start_ns"] = r.start_ns;
  d["end_ns"] = r.end_ns;
  d["window_ns"] = r.window_ns;
  d["windows"] = r.windows;
  py::list window_histograms;
  for (auto& h : r.window_histograms) window_histograms.append(py::cast(std::move(h)));
  d["window_histograms"] = window_histograms;
  d["window_histogram_span"] = r.window_histogram_span;
  d["cpu_ns"] = r.cpu_ns;
  d["open_loop"] = r.open_loop ? py::object(open_loop_dict(*r.open_loop)) : py::object(py::none());
  d["timestamps"] = r.timestamps_recorded ? rows_array(std::move(r.timestamps), kBoundaryCount)
                                          : py::object(py::none());
  d["tokens"] = r.tokens ? py::object(tokens_dict(std::move(*r.tokens))) : py::object(py::none());
  py::dict token_windows;
  for (size_t m = 0; m < r.token_window_histograms.size(); ++m) {
    py::list hists;
    for (auto& h : r.token_window_histograms[m]) hists.append(py::cast(std::move(h)));
    token_windows[py::str(std::string(kTokenMetricNames[m]))] = hists;
  }
  d["token_window_histograms"] = token_windows;
  d["requests"] = r.tokens && !r.requests.empty()
                      ? rows_array(std::move(r.requests), kRequestRecordFields)
                      : py::object(py::none());
  return d;
}

// Owns a Runner for Python; a started run is registered for the atexit hook.
// Destroying a Runner that is still going joins its workers, which need the GIL to
// finish their Python calls: release it first.
struct RunnerHandle {
  std::unique_ptr<Runner> runner;
  bool registered = false;

  void start() {
    if (!registered) register_run(runner.get());
    registered = true;
    runner->start();
  }

  ~RunnerHandle() {
    if (!runner) return;
    if (registered) unregister_run(runner.get());
    if (python_exiting()) {
      // At exit a worker may still be stuck in a call, so joining could never end:
      // leave the runner to the process exit.
      static_cast<void>(runner.release());
      return;
    }
    if (PyGILState_Check()) {
      GilReleased nogil;
      runner.reset();
    }
  }
};

// The windows closed since the previous call as (index, start_ns, count, Histogram).
py::list poll_windows(RunnerHandle& handle) {
  std::vector<LiveWindow> windows;
  {
    GilReleased nogil;
    windows = handle.runner->poll_windows();
  }
  py::list out;
  for (auto& w : windows) {
    py::dict metrics;
    for (size_t m = 0; m < w.metrics.size(); ++m) {
      metrics[py::str(std::string(kTokenMetricNames[m]))] = py::cast(std::move(w.metrics[m]));
    }
    out.append(
        py::make_tuple(w.index, w.start_ns, w.count, py::cast(std::move(w.histogram)), metrics));
  }
  return out;
}

// Waits with the GIL released; every poll takes it back briefly to run signal
// handlers, so Ctrl-C stops the run. Returns the result dict, with "interrupted"
// holding the exception a signal handler raised (or None). When the interpreter
// exits meanwhile (this is a daemon thread), the thread never returns to Python.
py::dict wait_for(RunnerHandle& handle) {
  Runner& runner = *handle.runner;
  if (!handle.registered) handle.start();
  std::optional<std::string> interrupted;
  PyThreadState* state = PyEval_SaveThread();
  auto poll = [&interrupted, &state]() {
    {
      HarnessWaiting announce;  // the workers hand the GIL over at their next iteration
      if (!enter_python(state)) return false;
    }
    bool stop = false;
    if (PyErr_CheckSignals() != 0) {
      py::error_already_set error;
      interrupted = std::string(py::str(error.type().attr("__name__")));
      stop = true;
    }
    state = leave_python();
    return stop;
  };
  std::optional<RunResult> result;
  try {
    result.emplace(runner.wait(poll));
  } catch (...) {
    if (!retake_python(state)) park_forever();
    throw;
  }
  if (!retake_python(state)) park_forever();
  py::dict d = result_dict(std::move(*result));
  d["interrupted"] = interrupted ? py::object(py::str(*interrupted)) : py::object(py::none());
  return d;
}

// The RunSettings of a Python object with one attribute per setting (engine.RunOptions,
// whose types are checked in Python); a value that no C++ field can hold (an int beyond
// its range) is an InvalidArgument naming the setting.
// The StreamSettings of a streaming.StreamOptions (its goodput SLOs keyed ttft_ms,
// tpot_ms, e2e_ms), or of None: not streamed.
StreamSettings stream_settings_of(const py::object& options) {
  StreamSettings s;
  if (options.is_none()) return s;
  s.enabled = true;
  s.record_requests = options.attr("record_requests").cast<bool>();
  const py::object goodput = options.attr("goodput");
  if (goodput.is_none()) return s;
  const py::dict slo = goodput.cast<py::dict>();
  auto ms = [&](const char* key) -> std::optional<double> {
    if (!slo.contains(key)) return std::nullopt;
    return slo[key].cast<double>();
  };
  s.goodput_ttft_ms = ms("ttft_ms");
  s.goodput_tpot_ms = ms("tpot_ms");
  s.goodput_e2e_ms = ms("e2e_ms");
  return s;
}

RunSettings settings_of(const py::handle& options) {
  RunSettings s;
  for_each_setting(s, [&](const char* name, auto& field) {
    py::object value = options.attr(name);
    try {
      using Field = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<Field, StreamSettings>) {
        field = stream_settings_of(value);
      } else {
        field = value.cast<Field>();
      }
    } catch (const py::cast_error&) {
      throw InvalidArgument(std::string(name) + " is out of the engine's range, got " +
                            std::string(py::repr(value)));
    }
  });
  return s;
}

py::tuple setting_names() {
  py::list names;
  RunSettings s;
  for_each_setting(s, [&](const char* name, auto&) { names.append(name); });
  return py::tuple(names);
}

template <size_t N>
py::tuple names_of(const std::array<std::string_view, N>& names) {
  py::list out;
  for (std::string_view name : names) out.append(std::string(name));
  return py::tuple(out);
}

}  // namespace

void bind_runner(py::module_& m) {
  static py::exception<RequestFailed> request_failed(m, "RequestFailed");
  request_failed.doc() =
      "Raised by a model (a served endpoint's client) when one request failed: the run "
      "counts it under its message in requests_failed, records no latency, and goes on.";
  set_request_failed_type(request_failed.ptr());
  py::class_<NativeModel, std::shared_ptr<NativeModel>>(m, "NativeModel",
                                                        "A model implemented in C++.")
      .def("__repr__",
           [](const NativeModel& model) { return "<NativeModel " + model.describe() + ">"; });

  m.def("noop_model", [] { return std::shared_ptr<NativeModel>(std::make_shared<NoopModel>()); });
  m.def(
      "spin_model",
      [](const std::string& distribution, int64_t latency_ns, int64_t low_ns, int64_t high_ns,
         int64_t second_latency_ns, double second_fraction, double sigma, uint64_t seed) {
        SpinSettings s;
        s.distribution = parse_spin_distribution(distribution);
        s.latency_ns = latency_ns;
        s.low_ns = low_ns;
        s.high_ns = high_ns;
        s.second_latency_ns = second_latency_ns;
        s.second_fraction = second_fraction;
        s.sigma = sigma;
        s.seed = seed;
        return std::shared_ptr<NativeModel>(std::make_shared<SpinModel>(s));
      },
      py::arg("distribution"), py::arg("latency_ns"), py::arg("low_ns"), py::arg("high_ns"),
      py::arg("second_latency_ns"), py::arg("second_fraction"), py::arg("sigma"), py::arg("seed"));

  m.def(
      "stream_spin_model",
      [](int64_t first_token_ns, int64_t token_ns, int64_t tokens) {
        StreamSpinSettings s;
        s.first_token_ns = first_token_ns;
        s.token_ns = token_ns;
        s.tokens = tokens;
        return std::shared_ptr<NativeModel>(std::make_shared<StreamSpinModel>(s));
      },
      py::arg("first_token_ns"), py::arg("token_ns"), py::arg("tokens"));

  py::class_<Pipeline, std::shared_ptr<Pipeline>>(m, "Pipeline",
                                                  "A model with its inputs and stages.");

  m.def(
      "native_pipeline",
      [](std::shared_ptr<NativeModel> model, int64_t input_count) {
        return std::shared_ptr<Pipeline>(std::make_shared<NativePipeline>(model, input_count));
      },
      py::arg("model"), py::arg("input_count") = -1);

  m.def(
      "python_pipeline",
      [](py::object model, py::object native, py::object preprocess, py::object postprocess,
         std::vector<py::tuple> inputs, py::object iterator, py::object thread_context,
         int64_t gil_slice_ns, py::object token_count_fn, std::vector<int64_t> input_tokens) {
        if (!input_tokens.empty() && input_tokens.size() != inputs.size()) {
          throw py::value_error("input_tokens must hold one count per input (" +
                                std::to_string(inputs.size()) + "), got " +
                                std::to_string(input_tokens.size()));
        }
        PythonStages stages;
        stages.model = std::move(model);
        if (!native.is_none()) stages.native = native.cast<std::shared_ptr<NativeModel>>();
        stages.preprocess = std::move(preprocess);
        stages.postprocess = std::move(postprocess);
        stages.inputs = std::move(inputs);
        stages.iterator = std::move(iterator);
        stages.thread_context = std::move(thread_context);
        stages.gil_slice_ns = gil_slice_ns;
        stages.token_count_fn = std::move(token_count_fn);
        stages.input_tokens = std::move(input_tokens);
        return std::shared_ptr<Pipeline>(std::make_shared<PythonPipeline>(std::move(stages)));
      },
      py::kw_only(), py::arg("model"), py::arg("native"), py::arg("preprocess"),
      py::arg("postprocess"), py::arg("inputs"), py::arg("iterator"), py::arg("thread_context"),
      py::arg("gil_slice_ns"), py::arg("token_count_fn") = py::none(),
      py::arg("input_tokens") = std::vector<int64_t>());

  m.attr("RUN_SETTINGS_FIELDS") = setting_names();
  m.attr("MAX_WORKERS") = kMaxWorkers;
  m.attr("MAX_REQUEST_RATE") = kMaxRequestRate;
  m.attr("DEFAULT_SPIN_WAIT_US") = kDefaultSpinWaitUs;
  m.attr("MAX_SECONDS") = kMaxSeconds;
  m.attr("ARRIVALS") = names_of(kArrivalNames);
  m.attr("STAGES") = names_of(kStageNames);
  m.def(
      "check_run_settings",
      [](const py::object& options) { check_run_settings(settings_of(options)); },
      py::arg("options"),
      "Raises ValueError naming the first setting of options (engine.RunOptions) out of range.");

  py::class_<ProgressForwarder>(m, "ProgressForwarder",
                                "Sends a run's progress over a pipe (see Runner.forward_progress).")
      .def("finish", [](ProgressForwarder& f) {
        GilReleased nogil;
        f.finish();
      });

  py::class_<RunnerHandle>(m, "Runner", "Runs a pipeline on worker threads (see engine.Runner).")
      .def(py::init([](std::shared_ptr<Pipeline> pipeline, const py::object& options) {
             auto handle = std::make_unique<RunnerHandle>();
             handle->runner = std::make_unique<Runner>(std::move(pipeline), settings_of(options));
             return handle;
           }),
           py::arg("pipeline"), py::arg("options"))
      .def("start",
           [](RunnerHandle& h) {
             GilReleased nogil;
             h.start();
           })
      .def("stop",
           [](RunnerHandle& h) {
             GilReleased nogil;
             h.runner->stop();
           })
      .def_property_readonly("done", [](RunnerHandle& h) { return h.runner->done(); })
      .def_property_readonly("live_iterations",
                             [](RunnerHandle& h) { return h.runner->live_iterations(); })
      .def("poll_windows", &poll_windows)
      .def(
          "forward_progress",
          [](RunnerHandle& h, int fd, double period_s, bool histograms, const std::string& metric) {
            ForwarderSettings settings;
            settings.period_ns = static_cast<int64_t>(period_s * 1e9);
            settings.histograms = histograms;
            settings.metric = token_metric_index(metric);
            return std::make_unique<ProgressForwarder>(*h.runner, fd, settings);
          },
          py::arg("fd"), py::kw_only(), py::arg("period_s"), py::arg("histograms"),
          py::arg("metric") = "e2e", py::keep_alive<0, 1>(),
          "Starts a native thread that sends this run's progress to the connection with "
          "file descriptor fd and stops the run when a message arrives on it.")
      .def("wait", &wait_for);

  m.def("now_ns", &now_ns, "The engine's monotonic clock (CLOCK_MONOTONIC) in nanoseconds.");
  m.def("clock_read_cost_ns", &clock_read_cost_ns, py::arg("reads"),
        py::call_guard<py::gil_scoped_release>());
  m.def("histogram_record_cost_ns", &histogram_record_cost_ns, py::arg("values"),
        py::call_guard<py::gil_scoped_release>());
}

}  // namespace npn::bindings
