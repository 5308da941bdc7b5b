// Python binding of the base64 decoder: str in, bytes out, written in place.
#include "json/base64.h"

#include <Python.h>
#include <pybind11/pybind11.h>

#include <string_view>

#include "bindings.h"

namespace py = pybind11;

namespace npn::bindings {

void bind_base64(py::module_& m) {
  m.def(
      "b64decode",
      [](std::string_view text) {
        const auto bound = static_cast<Py_ssize_t>(base64_decoded_bound(text));
        PyObject* raw = PyBytes_FromStringAndSize(nullptr, bound);
        if (raw == nullptr) throw py::error_already_set();
        Py_ssize_t written = 0;
        try {
          auto* out = reinterpret_cast<unsigned char*>(PyBytes_AS_STRING(raw));
          written = static_cast<Py_ssize_t>(decode_base64(text, out));
        } catch (...) {
          Py_DECREF(raw);
          throw;
        }
        // Shrinks in place; on failure it frees the object and sets an exception.
        if (_PyBytes_Resize(&raw, written) != 0) throw py::error_already_set();
        return py::reinterpret_steal<py::bytes>(raw);
      },
      py::arg("text"),
      "Decode standard base64 (whitespace skipped, padding required) to bytes.\n"
      "Raises ValueError naming the invalid character and its position.");
}

}  // namespace npn::bindings
