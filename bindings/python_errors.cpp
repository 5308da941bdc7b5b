#include "python_errors.h"

#include <string>
#include <utility>

#include "engine/pipeline.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

PyObject* request_failed_type = nullptr;  // set at import, before any run

std::string type_name(PyObject* type) {
  py::handle t(type);
  std::string module = py::str(t.attr("__module__"));
  std::string name = py::str(t.attr("__qualname__"));
  return module == "builtins" ? name : module + "." + name;
}

}  // namespace

void set_request_failed_type(PyObject* type) { request_failed_type = type; }

[[noreturn]] void throw_python_error() {
  py::error_already_set error;
  std::string type = type_name(error.type().ptr());
  std::string message = py::str(error.value());
  std::string traceback;
  try {
    // An error raised by C code before any Python frame ran (a call with the wrong
    // arguments) has no traceback object: None stands for it.
    py::object trace =
        error.trace() ? py::reinterpret_borrow<py::object>(error.trace()) : py::object(py::none());
    py::object lines = py::module_::import("traceback")
                           .attr("format_exception")(error.type(), error.value(), trace);
    traceback = py::str(py::str("").attr("join")(lines));
  } catch (const py::error_already_set&) {
    traceback = type + ": " + message;
  }
  throw StageError(std::move(type), std::move(message), std::move(traceback));
}

PyObject* checked(PyObject* result) {
  if (result == nullptr) throw_python_error();
  return result;
}

PyObject* checked_call(PyObject* result) {
  if (result != nullptr) return result;
  if (request_failed_type == nullptr || !PyErr_ExceptionMatches(request_failed_type)) {
    throw_python_error();
  }
  py::error_already_set error;
  throw RequestFailed(py::str(error.value()));
}

}  // namespace npn::bindings
