// Bindings for framed messages on pipes (frames.h): the harness's side of talking to
// model copies, with the GIL released while it waits and retaken as a harness thread
// (gil_arbiter.h), so that workers in this process hand it over at once.
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bindings.h"
#include "common/clock.h"
#include "engine/frames.h"
#include "interpreter_exit.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

// Raises OSError (or the subclass its errno maps to, e.g. BrokenPipeError).
[[noreturn]] void raise_os_error(const std::system_error& error) {
  py::object os_error = py::reinterpret_borrow<py::object>(PyExc_OSError);
  py::object instance = os_error(error.code().value(), error.what());
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())), instance.ptr());
  throw py::error_already_set();
}

// Waits with the GIL released; a signal that interrupts the wait runs its Python
// handlers (Ctrl-C raises here) before waiting on for the time left.
std::vector<int> wait_for_fds(const std::vector<int>& fds, std::optional<double> timeout_s) {
  const int64_t deadline =
      timeout_s ? now_ns() + static_cast<int64_t>(std::max(0.0, *timeout_s) * 1e9) : -1;
  while (true) {
    const int64_t left = deadline < 0 ? -1 : std::max<int64_t>(0, deadline - now_ns());
    ReadyFds ready;
    try {
      GilReleased nogil;
      ready = wait_readable(fds, left);
    } catch (const std::system_error& error) {
      raise_os_error(error);
    }
    if (!ready.interrupted) return ready.fds;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

py::bytes read_message(int fd) {
  wait_for_fds({fd}, std::nullopt);
  std::string payload;
  bool got = false;
  try {
    GilReleased nogil;
    got = read_frame(fd, payload);
  } catch (const std::system_error& error) {
    raise_os_error(error);
  }
  if (!got) {
    PyErr_SetString(PyExc_EOFError, "the other end closed the connection");
    throw py::error_already_set();
  }
  return py::bytes(payload);
}

void write_message(int fd, const py::bytes& data) {
  const std::string_view payload = data;  // the caller's reference keeps the bytes alive
  try {
    GilReleased nogil;
    write_frame(fd, payload);
  } catch (const std::system_error& error) {
    raise_os_error(error);
  }
}

}  // namespace

void bind_channel(py::module_& m) {
  m.def("wait_readable", &wait_for_fds, py::arg("fds"), py::arg("timeout_s"),
        "The file descriptors among fds that are readable (or closed), waiting at most "
        "timeout_s seconds (None: no limit) with the GIL released.");
  m.def("read_message", &read_message, py::arg("fd"),
        "Reads one message sent by multiprocessing.Connection.send_bytes (or "
        "write_message); EOFError when the other end closed.");
  m.def("write_message", &write_message, py::arg("fd"), py::arg("data"),
        "Writes one message as multiprocessing.Connection.send_bytes does.");
}

}  // namespace npn::bindings
