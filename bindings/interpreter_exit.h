// Interpreter exit: the engine's threads stop touching Python before CPython finalizes.
//
// At exit CPython ends (pthread_exit) or hangs any thread that takes the GIL once
// finalization began; from inside C++ frames that aborts the process ("FATAL: exception
// not rethrown", or std::terminate from a destructor). So every place where a thread
// of the engine takes the GIL goes through this gate: once stop_runs_at_exit() (an
// atexit hook that engine.py registers) has begun, no thread takes it again, and the
// hook waits until the threads that hold it have let it go.
#pragma once

#include <pybind11/pybind11.h>

namespace npn {
class Runner;
}

namespace npn::bindings {

// True once the interpreter began exiting (the atexit hook ran) or finalizing.
bool python_exiting() noexcept;

// Takes the GIL with `state` (as PyEval_RestoreThread) and counts this thread as using
// Python, unless the interpreter is exiting: then returns false without taking it.
bool enter_python(PyThreadState* state);
// Releases the GIL taken by enter_python() and returns the state to retake it with.
PyThreadState* leave_python() noexcept;
// For a thread that gave the GIL up by other means (PyThreadState_DeleteCurrent).
void left_python() noexcept;
// As enter_python / leave_python for a thread that may have no thread state of its own
// (PyGILState_Ensure / PyGILState_Release).
bool ensure_python(PyGILState_STATE& state);
void release_python(PyGILState_STATE state) noexcept;

// For a Python thread that released the GIL to wait in C++ (a harness thread, never a
// worker): retakes it, announced to the workers (gil_arbiter.h), unless the interpreter
// is exiting and this is not the thread running the exit; then returns false, and the
// thread must never return to Python (park_forever()).
bool retake_python(PyThreadState* state);

// Never returns: for a Python thread that must not go back to Python at exit (the
// process exit ends it, as CPython 3.14 does with such threads).
[[noreturn]] void park_forever() noexcept;

// Releases the GIL for a scope; retakes it at the end, or parks the thread at exit.
class GilReleased {
 public:
  GilReleased() : state_(PyEval_SaveThread()) {}
  ~GilReleased();
  GilReleased(const GilReleased&) = delete;
  GilReleased& operator=(const GilReleased&) = delete;

 private:
  PyThreadState* state_;
};

// Runs whose workers the atexit hook stops and waits for. Thread-safe.
void register_run(Runner* runner);
void unregister_run(Runner* runner);

void bind_interpreter_exit(pybind11::module_& m);

}  // namespace npn::bindings
