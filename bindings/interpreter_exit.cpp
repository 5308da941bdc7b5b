#include "interpreter_exit.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "engine/runner.h"
#include "gil_arbiter.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

std::atomic<bool> g_exiting{false};
pthread_t g_exit_thread{};        // written before g_exiting is set; read after it is seen
std::atomic<int> g_in_python{0};  // engine threads between enter_python and leave_python

std::mutex g_runs_mutex;
std::vector<Runner*> g_runs;

bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

bool runs_done() {
  std::lock_guard<std::mutex> lock(g_runs_mutex);
  return std::all_of(g_runs.begin(), g_runs.end(), [](Runner* r) { return r->done(); });
}

// The atexit hook: stops every active run, then waits (GIL released) until their
// workers have ended and no engine thread uses Python, for at most timeout_s. A call
// stuck past that keeps its thread; it never returns to Python (see enter_python).
void stop_runs_at_exit(double timeout_s) {
  g_exit_thread = pthread_self();
  g_exiting.store(true);
  {
    std::lock_guard<std::mutex> lock(g_runs_mutex);
    for (Runner* r : g_runs) r->stop();
  }
  PyThreadState* state = PyEval_SaveThread();
  const int64_t deadline = now_ns() + static_cast<int64_t>(timeout_s * 1e9);
  while (!(g_in_python.load() == 0 && runs_done()) && now_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  PyEval_RestoreThread(state);
}

}  // namespace

bool python_exiting() noexcept { return g_exiting.load() || interpreter_finalizing(); }

bool enter_python(PyThreadState* state) {
  // Counted before the check: the hook sets g_exiting before it reads the count, so
  // either this thread sees g_exiting, or the hook waits for this thread.
  g_in_python.fetch_add(1);
  if (python_exiting()) {
    g_in_python.fetch_sub(1);
    return false;
  }
  PyEval_RestoreThread(state);
  return true;
}

PyThreadState* leave_python() noexcept {
  PyThreadState* state = PyEval_SaveThread();
  g_in_python.fetch_sub(1);
  return state;
}

void left_python() noexcept { g_in_python.fetch_sub(1); }

bool ensure_python(PyGILState_STATE& state) {
  g_in_python.fetch_add(1);
  if (python_exiting()) {
    g_in_python.fetch_sub(1);
    return false;
  }
  state = PyGILState_Ensure();
  return true;
}

void release_python(PyGILState_STATE state) noexcept {
  PyGILState_Release(state);
  g_in_python.fetch_sub(1);
}

bool retake_python(PyThreadState* state) {
  HarnessWaiting announce;  // the workers hand the GIL over at their next iteration
  if (g_exiting.load() && pthread_equal(pthread_self(), g_exit_thread)) {
    PyEval_RestoreThread(state);  // the exiting thread itself always may
    return true;
  }
  if (!enter_python(state)) return false;
  left_python();  // back in Python: CPython looks after this thread from here
  return true;
}

void park_forever() noexcept {
  while (true) pause();
}

GilReleased::~GilReleased() {
  if (!retake_python(state_)) park_forever();
}

void register_run(Runner* runner) {
  std::lock_guard<std::mutex> lock(g_runs_mutex);
  g_runs.push_back(runner);
}

void unregister_run(Runner* runner) {
  std::lock_guard<std::mutex> lock(g_runs_mutex);
  g_runs.erase(std::remove(g_runs.begin(), g_runs.end(), runner), g_runs.end());
}

void bind_interpreter_exit(py::module_& m) {
  m.def("_stop_runs_at_exit", &stop_runs_at_exit, py::arg("timeout_s"),
        "atexit hook: stops active runs and waits for their workers to leave Python.");
}

}  // namespace npn::bindings
