// Python binding of the streaming JSON reader. read_json parses with the GIL
// released, then converts the tree to dict / list / str / int / float / bool /
// None, handing numeric arrays to numpy (int64, float64, float32) without copying and
// freeing each node's storage as it is converted, so the document is never
// held twice. JsonError becomes _engine.JsonError (a ValueError) and
// JsonFileError an OSError with its errno (FileNotFoundError, ...).
#include "json_reader.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

// The array owns the vector through a capsule.
template <typename T>
py::object numpy_array(std::vector<T>&& values) {
  auto owned = std::make_unique<std::vector<T>>(std::move(values));
  py::capsule owner(owned.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
  const std::vector<T>* held = owned.release();
  return py::array_t<T>(static_cast<py::ssize_t>(held->size()), held->data(), owner);
}

// Lone surrogates arrive in their 3-byte form and come back as Python keeps them.
py::object text(std::string utf8) {
  PyObject* s =
      PyUnicode_DecodeUTF8(utf8.data(), static_cast<py::ssize_t>(utf8.size()), "surrogatepass");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(s);
}

// Converts value, moving its storage out so it is freed as soon as converted.
py::object to_python(JsonValue& value) {
  auto& data = value.data;
  if (std::holds_alternative<std::nullptr_t>(data)) return py::none();
  if (const bool* b = std::get_if<bool>(&data)) return py::bool_(*b);
  if (const int64_t* i = std::get_if<int64_t>(&data)) return py::int_(*i);
  if (const double* x = std::get_if<double>(&data)) return py::float_(*x);
  if (auto* big = std::get_if<JsonBigInt>(&data)) {
    PyObject* n = PyLong_FromString(big->digits.c_str(), nullptr, 10);
    if (n == nullptr) throw py::error_already_set();  // e.g. beyond int_max_str_digits
    return py::reinterpret_steal<py::object>(n);
  }
  if (auto* s = std::get_if<std::string>(&data)) return text(std::move(*s));
  if (auto* ints = std::get_if<JsonIntArray>(&data)) return numpy_array(std::move(*ints));
  if (auto* reals = std::get_if<JsonFloatArray>(&data)) return numpy_array(std::move(*reals));
  if (auto* reals = std::get_if<JsonFloat32Array>(&data)) return numpy_array(std::move(*reals));
  if (auto* array = std::get_if<JsonArray>(&data)) {
    JsonArray items = std::move(*array);
    py::list out(items.size());
    for (size_t k = 0; k < items.size(); ++k) {
      PyList_SET_ITEM(out.ptr(), static_cast<py::ssize_t>(k), to_python(items[k]).release().ptr());
    }
    return std::move(out);
  }
  JsonObject object = std::move(std::get<JsonObject>(data));
  py::dict out;
  for (size_t k = 0; k < object.keys.size(); ++k) {
    py::object key = text(std::move(object.keys[k]));
    py::object item = to_python(object.values[k]);
    if (PyDict_SetItem(out.ptr(), key.ptr(), item.ptr()) != 0) throw py::error_already_set();
  }
  return std::move(out);
}

}  // namespace

void bind_json_reader(py::module_& m) {
  py::register_exception<JsonError>(m, "JsonError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const JsonFileError& e) {
      errno = e.errno_value();
      PyErr_SetFromErrnoWithFilename(PyExc_OSError, e.path().c_str());
    }
  });
  m.def(
      "read_json",
      [](const py::bytes& path) {
        const std::string file = path;
        JsonValue root;
        {
          py::gil_scoped_release release;
          root = read_json_file(file);
        }
        return to_python(root);
      },
      py::arg("path"),
      "Parse the JSON file at path (bytes, as os.fsencode gives) like json.load, except\n"
      "that an array of all-integer literals (within int64) or all-float literals is a\n"
      "numpy int64 / float64 array (float32 when float32 holds every value exactly).\n"
      "Raises JsonError (a ValueError) for invalid JSON and OSError when the file\n"
      "cannot be read.");
}

}  // namespace npn::bindings
