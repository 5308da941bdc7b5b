#include "python_pipeline.h"

#include <sched.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "common/clock.h"
#include "gil_arbiter.h"
#include "interpreter_exit.h"
#include "python_errors.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

// A worker that gives the GIL up for a harness thread or another worker waits this long
// at most for it to be taken before it competes for the GIL again.
constexpr int64_t kHandOverWaitNs = 2'000'000;
// The courtesy release comes once per this many switch intervals: a thread waiting one
// whole interval asks CPython for a forced switch, and a release sooner would restart
// its interval instead (gil_arbiter.h).
constexpr int64_t kCourtesySwitchIntervals = 4;

[[noreturn]] void throw_stage_error(const char* type, std::string message) {
  throw StageError(type, message, std::string(type) + ": " + message);
}

// Tokens in one streamed item: an int is one, a 1-D list/tuple of ints or 1-D integer
// buffer (numpy array) its length, an empty str/bytes/list none, anything else one.
int64_t default_token_count(PyObject* item) {
  if (PyLong_CheckExact(item)) return 1;
  if (PyList_Check(item) || PyTuple_Check(item)) {
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(item);
    if (n == 0) return 0;
    return PyLong_Check(PySequence_Fast_GET_ITEM(item, 0)) ? n : 1;
  }
  if (PyUnicode_Check(item)) return PyUnicode_GET_LENGTH(item) > 0 ? 1 : 0;
  if (PyBytes_Check(item)) return PyBytes_GET_SIZE(item) > 0 ? 1 : 0;
  if (!PyObject_CheckBuffer(item)) return 1;
  Py_buffer view;
  if (PyObject_GetBuffer(item, &view, PyBUF_RECORDS_RO) != 0) {
    PyErr_Clear();
    return 1;
  }
  int64_t tokens = 1;
  const char* format = view.format ? view.format : "B";
  if (*format == '@' || *format == '=' || *format == '<' || *format == '>') ++format;
  if (view.ndim == 1 && format[0] != 0 && format[1] == 0 && std::strchr("bBhHiIlLqQ", *format)) {
    tokens = static_cast<int64_t>(view.shape[0]);
  }
  PyBuffer_Release(&view);
  return tokens;
}
PyObject* vectorcall(PyObject* fn, PyObject* args) {
  return PyObject_Vectorcall(fn, &PyTuple_GET_ITEM(args, 0),
                             static_cast<size_t>(PyTuple_GET_SIZE(args)), nullptr);
}

// Calls fn(*args) where args is a tuple.
PyObject* call_with_tuple(PyObject* fn, PyObject* args) { return checked(vectorcall(fn, args)); }

}  // namespace

// A thread state for this worker, unless the interpreter is exiting.
PyThreadState* new_thread_state(PyInterpreterState* interpreter) {
  if (python_exiting()) throw WorkerExit();
  return PyThreadState_New(interpreter);
}

// One worker thread's interpreter state and the objects of its current iteration. It
// takes the GIL only through enter_python(): once the interpreter exits, it throws
// WorkerExit instead, and its destructor leaves the Python objects to the interpreter.
class PythonWorker final : public WorkerPipeline {
 public:
  explicit PythonWorker(PythonPipeline& owner, int worker_index)
      : owner_(owner),
        stages_(*owner.stages_),
        arbiter_(gil_arbiter()),
        courtesy_ns_(owner.courtesy_ns_),
        tstate_(new_thread_state(owner.interpreter_)),
        worker_index_(worker_index) {
    if (!stages_.inputs.empty()) {
      position_ = static_cast<size_t>(worker_index) % stages_.inputs.size();
    }
    if (!stages_.thread_context.is_none()) enter_thread_context();
  }

  ~PythonWorker() override {
    if (python_exiting()) return;  // the interpreter owns and frees the state now
    if (!held_ && !enter_python(tstate_)) return;
    exit_thread_context();
    Py_CLEAR(owned_args_);
    Py_CLEAR(output_);
    PyThreadState_Clear(tstate_);
    PyThreadState_DeleteCurrent();
    left_python();
  }

  bool enter() override {
    if (held_) return false;
    arbiter_.workers_waiting.fetch_add(1, std::memory_order_relaxed);
    const bool entered = enter_python(tstate_);
    arbiter_.workers_waiting.fetch_sub(1, std::memory_order_relaxed);
    if (!entered) throw WorkerExit();
    arbiter_.acquisitions.fetch_add(1, std::memory_order_relaxed);
    held_ = true;
    held_since_ns_ = 0;
    return true;
  }

  // Keeps the GIL for the next iteration, or hands it on (gil_arbiter.h): at once to
  // a harness thread, after a time slice to a waiting worker, after the courtesy
  // interval to whoever asked CPython for it.
  void between_iterations(int64_t now_ns) override {
    if (!held_) return;
    if (arbiter_.harness_waiting.load(std::memory_order_relaxed) > 0) {
      leave();
      wait_while([this] { return arbiter_.harness_waiting.load(std::memory_order_relaxed) > 0; });
      return;
    }
    if (held_since_ns_ == 0) {
      held_since_ns_ = now_ns;
      return;
    }
    const int64_t held_ns = now_ns - held_since_ns_;
    if (held_ns < stages_.gil_slice_ns) return;
    if (arbiter_.workers_waiting.load(std::memory_order_relaxed) > 0) {
      const uint64_t seen = arbiter_.acquisitions.load(std::memory_order_relaxed);
      leave();
      // Without this wait, this thread would usually retake the GIL before the woken
      // waiter gets to run.
      wait_while([this, seen] {
        return arbiter_.acquisitions.load(std::memory_order_relaxed) == seen &&
               arbiter_.workers_waiting.load(std::memory_order_relaxed) > 0;
      });
      return;
    }
    if (held_ns >= courtesy_ns_) leave();  // taken straight back by the next enter()
  }

  void leave() override {
    if (!held_) return;
    Py_CLEAR(owned_args_);
    Py_CLEAR(output_);
    leave_python();
    held_ = false;
  }

  bool next_input() override {
    Py_CLEAR(owned_args_);
    if (!stages_.inputs.empty()) {
      current_ = position_;
      args_ = stages_.inputs[position_].ptr();
      if (++position_ == stages_.inputs.size()) position_ = 0;
      return true;
    }
    if (stages_.iterator.is_none()) {
      args_ = empty_args();
      return true;
    }
    PyObject* item = next_item();
    if (item == nullptr) return false;
    owned_args_ = as_args(item);
    args_ = owned_args_;
    return true;
  }

  void preprocess() override {
    PyObject* result = call_with_tuple(stages_.preprocess.ptr(), args_);
    Py_XSETREF(owned_args_, as_args(result));
    args_ = owned_args_;
  }

  void infer() override {
    if (stages_.native) {
      PyThreadState* state = leave_python();
      native_instance()->infer();
      retake(state);
      return;
    }
    PyObject* output = checked_call(vectorcall(stages_.model.ptr(), args_));
    if (stages_.postprocess.is_none()) {
      Py_DECREF(output);
    } else {
      Py_XSETREF(output_, output);
    }
  }

  // Calls the model and draws its response's items one by one, each stamped the moment
  // next() returns (before its tokens are counted). The GIL stays held between items
  // for at most one time slice while other workers wait for it.
  void infer_stream(StreamSink& sink) override {
    if (!stages_.input_tokens.empty()) sink.set_input_tokens(stages_.input_tokens[current_]);
    if (stages_.native) {
      PyThreadState* state = leave_python();
      native_instance()->infer_stream(sink);
      retake(state);
      return;
    }
    PyObject* iterator = stream_of(checked_call(vectorcall(stages_.model.ptr(), args_)));
    try {
      while (PyObject* item = PyIter_Next(iterator)) {
        const int64_t at = npn::now_ns();
        int64_t tokens = 0;
        try {
          tokens = count_tokens(item);
        } catch (...) {
          Py_DECREF(item);
          throw;
        }
        Py_DECREF(item);
        sink.item_at(tokens, at);
        slice_check(at);
      }
      if (PyErr_Occurred()) checked_call(nullptr);  // the stream raised: it failed
    } catch (...) {
      if (held_) Py_DECREF(iterator);
      throw;
    }
    Py_DECREF(iterator);
  }

  void postprocess() override {
    PyObject* arg = output_ != nullptr ? output_ : Py_None;
    PyObject* result = checked(PyObject_CallOneArg(stages_.postprocess.ptr(), arg));
    Py_DECREF(result);
    Py_CLEAR(output_);
  }

 private:
  static PyObject* empty_args() {
    static PyObject* empty = PyTuple_New(0);
    return empty;
  }

  // Yields the processor while `pending` holds, for at most kHandOverWaitNs.
  template <class Pending>
  static void wait_while(Pending pending) {
    const int64_t give_up_at = npn::now_ns() + kHandOverWaitNs;
    while (pending() && npn::now_ns() < give_up_at) sched_yield();
  }

  // Takes a new reference; returns a new reference to an argument tuple.
  static PyObject* as_args(PyObject* item) {
    if (PyTuple_Check(item)) return item;
    PyObject* args = PyTuple_Pack(1, item);
    Py_DECREF(item);
    return checked(args);
  }

  // next() under the iterator lock. The GIL is dropped while waiting for the lock,
  // since the thread holding it may itself be waiting for the GIL inside next().
  PyObject* next_item() {
    std::unique_lock<std::mutex> lock(owner_.iterator_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
      PyThreadState* state = leave_python();
      lock.lock();
      retake(state);
    }
    PyObject* item = PyIter_Next(stages_.iterator.ptr());
    if (item == nullptr && PyErr_Occurred()) throw_python_error();
    return item;
  }

  // Enters thread_context() on this worker's thread before its first iteration, so
  // per-thread state (e.g. torch.inference_mode) costs nothing per call. Runs in the
  // constructor, which the runner calls on the worker thread; on failure the thread
  // state is freed here, since the destructor will not run.
  void enter_thread_context() {
    if (!enter_python(tstate_)) throw WorkerExit();
    try {
      context_ = checked(PyObject_CallNoArgs(stages_.thread_context.ptr()));
      Py_DECREF(checked(PyObject_CallMethod(context_, "__enter__", nullptr)));
    } catch (...) {
      Py_CLEAR(context_);
      PyThreadState_Clear(tstate_);
      PyThreadState_DeleteCurrent();
      left_python();
      throw;
    }
    leave_python();
  }

  // Between two items of a stream, as between iterations (gil_arbiter.h): hands the GIL
  // at once to a waiting harness thread, and after a time slice to a waiting worker,
  // then takes it back. A long stream never keeps either waiting until it ends.
  void slice_check(int64_t now) {
    if (arbiter_.harness_waiting.load(std::memory_order_relaxed) > 0) {
      hand_over([this] { return arbiter_.harness_waiting.load(std::memory_order_relaxed) > 0; });
      return;
    }
    if (held_since_ns_ == 0) {
      held_since_ns_ = now;
      return;
    }
    if (now - held_since_ns_ < stages_.gil_slice_ns) return;
    held_since_ns_ = now;
    if (arbiter_.workers_waiting.load(std::memory_order_relaxed) == 0) return;
    const uint64_t seen = arbiter_.acquisitions.load(std::memory_order_relaxed);
    hand_over([this, seen] {
      return arbiter_.acquisitions.load(std::memory_order_relaxed) == seen &&
             arbiter_.workers_waiting.load(std::memory_order_relaxed) > 0;
    });
  }

  // Releases the GIL mid-iteration, yields while `pending` holds (see wait_while), and
  // takes it back as a waiting worker (or ends the worker when the interpreter exits).
  template <class Pending>
  void hand_over(Pending pending) {
    PyThreadState* state = leave_python();
    wait_while(pending);
    arbiter_.workers_waiting.fetch_add(1, std::memory_order_relaxed);
    const bool entered = enter_python(state);
    arbiter_.workers_waiting.fetch_sub(1, std::memory_order_relaxed);
    if (!entered) {
      held_ = false;
      throw WorkerExit();
    }
    arbiter_.acquisitions.fetch_add(1, std::memory_order_relaxed);
    held_since_ns_ = 0;
  }

  // The iterator of a streamed response (a new reference; steals `response`).
  static PyObject* stream_of(PyObject* response) {
    if (PyUnicode_Check(response) || PyBytes_Check(response) || PyDict_Check(response)) {
      const std::string type = Py_TYPE(response)->tp_name;
      Py_DECREF(response);
      throw_stage_error("TypeError",
                        "with streaming the model must return an iterator of "
                        "tokens (a generator or any iterable), got a " +
                            type);
    }
    PyObject* iterator = PyObject_GetIter(response);
    if (iterator == nullptr) {
      const std::string type = Py_TYPE(response)->tp_name;
      Py_DECREF(response);
      PyErr_Clear();
      throw_stage_error("TypeError",
                        "with streaming the model must return an iterator of "
                        "tokens (a generator or any iterable), got " +
                            type);
    }
    Py_DECREF(response);
    return iterator;
  }

  int64_t count_tokens(PyObject* item) {
    if (stages_.token_count_fn.is_none()) return default_token_count(item);
    PyObject* result = checked(PyObject_CallOneArg(stages_.token_count_fn.ptr(), item));
    const long long tokens = PyLong_Check(result) ? PyLong_AsLongLong(result) : -1;
    const bool ok = PyLong_Check(result) && !PyErr_Occurred() && tokens >= 0;
    const std::string shown = ok ? std::string() : std::string(py::repr(result));
    Py_DECREF(result);
    if (!ok) {
      PyErr_Clear();
      throw_stage_error("ValueError",
                        "token_count_fn must return an int >= 0 for each item, got " + shown);
    }
    return tokens;
  }

  // Takes the GIL back after a wait without it (held_ stays true), or ends the worker
  // when the interpreter is exiting.
  void retake(PyThreadState* state) {
    if (enter_python(state)) return;
    held_ = false;
    throw WorkerExit();
  }

  // Leaves the entered context on the same thread; called with the GIL held. An
  // error from __exit__ cannot fail a finished run: it is reported as unraisable.
  void exit_thread_context() {
    if (context_ == nullptr) return;
    PyObject* result = PyObject_CallMethod(context_, "__exit__", "OOO", Py_None, Py_None, Py_None);
    if (result == nullptr) {
      PyErr_WriteUnraisable(context_);
    } else {
      Py_DECREF(result);
    }
    Py_CLEAR(context_);
  }

  NativeInstance* native_instance() {
    if (!native_) native_ = stages_.native->instantiate(worker_index_);
    return native_.get();
  }

  PythonPipeline& owner_;
  PythonStages& stages_;
  GilArbiter& arbiter_;
  const int64_t courtesy_ns_;
  PyThreadState* tstate_;
  int worker_index_;
  bool held_ = false;
  int64_t held_since_ns_ = 0;
  size_t position_ = 0;
  size_t current_ = 0;              // the position of the current input (round-robin inputs)
  PyObject* args_ = nullptr;        // borrowed: the current argument tuple
  PyObject* owned_args_ = nullptr;  // owned when args came from an iterator or preprocess
  PyObject* output_ = nullptr;      // the model output awaiting postprocess
  PyObject* context_ = nullptr;     // the entered thread context, left in the destructor
  std::unique_ptr<NativeInstance> native_;
};

PythonPipeline::PythonPipeline(PythonStages stages)
    : stages_(std::make_unique<PythonStages>(std::move(stages))),
      interpreter_(PyThreadState_Get()->interp),
      courtesy_ns_(
          std::max(stages_->gil_slice_ns, kCourtesySwitchIntervals * switch_interval_ns())) {}

PythonPipeline::~PythonPipeline() {
  PyGILState_STATE gil;
  if (!ensure_python(gil)) {
    // Too late to touch Python objects: leak them rather than crash at exit.
    static_cast<void>(stages_.release());
    return;
  }
  stages_.reset();
  release_python(gil);
}

PipelineTraits PythonPipeline::traits() const {
  PipelineTraits t;
  t.has_preprocess = !stages_->preprocess.is_none();
  t.has_postprocess = !stages_->postprocess.is_none();
  t.timed_input = !stages_->iterator.is_none();
  t.finite_input = t.timed_input;
  t.shared_lock = true;
  return t;
}

std::unique_ptr<WorkerPipeline> PythonPipeline::make_worker(int worker_index) {
  return std::make_unique<PythonWorker>(*this, worker_index);
}

}  // namespace npn::bindings
