// Python exceptions raised in an engine thread, as the engine's C++ exceptions.
#pragma once

#include <pybind11/pybind11.h>

namespace npn::bindings {

// The Python exception type that a model raises for one failed request (set once at
// module import): calls turn it into npn::RequestFailed.
void set_request_failed_type(PyObject* type);

// Turns the pending Python exception into a StageError carrying its type, message and
// formatted traceback. Called with the GIL held.
[[noreturn]] void throw_python_error();

// `result`, or the pending Python exception as a StageError when it is null.
PyObject* checked(PyObject* result);

// A model call's result, or RequestFailed when it raised the request-failed type (one
// request failed; the run goes on), or the pending Python exception as a StageError.
PyObject* checked_call(PyObject* result);

}  // namespace npn::bindings
