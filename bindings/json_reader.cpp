// Python binding of the streaming JSON reader. read_json builds the Python
// objects as the parser reads (dict / list / str / int / float / bool / None,
// numeric arrays as numpy int64 / float64 / float32 arrays that own the parsed
// vector, decoded "b64" members as bytes), so the document is never held twice:
// memory is what json.load's objects take, or less. The GIL is held throughout,
// as json.load holds it; prefetch workers convert numbers without it. Python's
// cyclic GC is paused while building (fresh containers hold no cycles; without
// the pause, 30 M small lists took minutes of collections). JsonError becomes
// _engine.JsonError (a ValueError) and JsonFileError an OSError with its errno.
#include "json/json_reader.h"

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

// Steals a new reference; throws the pending Python error for nullptr.
py::object owned(PyObject* object) {
  if (object == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(object);
}

// Lone surrogates arrive in their 3-byte form and come back as Python keeps them.
py::object text(const std::string& utf8) {
  return owned(
      PyUnicode_DecodeUTF8(utf8.data(), static_cast<py::ssize_t>(utf8.size()), "surrogatepass"));
}

// Pauses the cyclic GC for its lifetime (restoring the previous state).
class GcPause {
 public:
  GcPause() : was_enabled_(PyGC_Disable() == 1) {}
  ~GcPause() {
    if (was_enabled_) PyGC_Enable();
  }
  GcPause(const GcPause&) = delete;
  GcPause& operator=(const GcPause&) = delete;

 private:
  bool was_enabled_;
};

// Builds Python objects from the parser's events. Not thread-safe; called with
// the GIL held, one builder per document.
class PythonBuilder final : public JsonHandler {
 public:
  py::object take_root() { return std::move(root_); }

  void null_value() override { add(py::none()); }
  void bool_value(bool value) override { add(py::bool_(value)); }
  void int_value(int64_t value) override { add(owned(PyLong_FromLongLong(value))); }
  void double_value(double value) override { add(owned(PyFloat_FromDouble(value))); }
  void big_int_value(std::string_view digits) override {
    // Raises ValueError beyond sys.get_int_max_str_digits().
    add(owned(PyLong_FromString(std::string(digits).c_str(), nullptr, 10)));
  }
  void huge_float_value(std::string_view literal) override {
    if (decimal_.is_none()) decimal_ = py::module_::import("decimal").attr("Decimal");
    add(decimal_(py::str(literal.data(), literal.size())));
  }
  void string_value(std::string&& utf8) override { add(text(utf8)); }
  void bytes_value(std::string&& bytes) override {
    add(owned(PyBytes_FromStringAndSize(bytes.data(), static_cast<py::ssize_t>(bytes.size()))));
  }
  void int_array(std::vector<int64_t>&& values) override { add(numpy_array(std::move(values))); }
  void float_array(std::vector<double>&& values) override { add(numpy_array(std::move(values))); }
  void float32_array(std::vector<float>&& values) override { add(numpy_array(std::move(values))); }
  void begin_array() override { open_.push_back({owned(PyList_New(0)), {}}); }
  void begin_object() override { open_.push_back({owned(PyDict_New()), {}}); }
  // Equal keys share one str, as json.load memoizes them.
  void key(std::string&& utf8) override {
    py::object fresh = text(utf8);
    PyObject* shared = PyDict_SetDefault(keys_.ptr(), fresh.ptr(), fresh.ptr());
    if (shared == nullptr) throw py::error_already_set();
    open_.back().key = py::reinterpret_borrow<py::object>(shared);
  }
  void end_array() override { close(); }
  void end_object() override { close(); }

 private:
  struct Open {
    py::object container;
    py::object key;  // an object's member awaiting its value
  };

  void add(py::object value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return;
    }
    Open& top = open_.back();
    if (PyList_CheckExact(top.container.ptr())) {
      if (PyList_Append(top.container.ptr(), value.ptr()) != 0) throw py::error_already_set();
    } else {
      if (PyDict_SetItem(top.container.ptr(), top.key.ptr(), value.ptr()) != 0) {
        throw py::error_already_set();
      }
      top.key = py::object();
    }
  }

  void close() {
    py::object done = std::move(open_.back().container);
    open_.pop_back();
    add(std::move(done));
  }

  py::object root_;
  std::vector<Open> open_;  // outermost first
  py::dict keys_;
  py::object decimal_ = py::none();  // decimal.Decimal, imported when first needed
};

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
      [](const py::bytes& path, size_t min_typed_array, bool decode_b64,
         bool huge_floats_as_decimal, int prefetch_threads) {
        JsonParseOptions options;
        options.min_typed_array = min_typed_array;
        options.decode_b64_members = decode_b64;
        options.huge_floats_as_text = huge_floats_as_decimal;
        options.prefetch_threads = prefetch_threads;
        PythonBuilder builder;
        {
          GcPause pause;
          read_json_file(std::string(path), builder, options);
        }
        return builder.take_root();
      },
      py::arg("path"), py::kw_only(), py::arg("min_typed_array") = 16,
      py::arg("decode_b64") = false, py::arg("huge_floats_as_decimal") = false,
      py::arg("prefetch_threads") = -1,
      "Parse the JSON file at path (bytes, as os.fsencode gives) like json.load, except\n"
      "that an array of at least min_typed_array integer literals (within int64) or float\n"
      "literals is a numpy int64 / float64 array (float32 when float32 holds every value\n"
      "exactly), and with decode_b64 the valid base64 string value of a \"b64\" member is\n"
      "bytes; with huge_floats_as_decimal a float literal beyond double's range (json.load:\n"
      "inf) is a decimal.Decimal and its array a list. prefetch_threads: worker threads\n"
      "converting large numeric arrays of large files ahead of the parser (-1: one per\n"
      "idle CPU, at most 3; 0: none); the result is the same. Raises JsonError (a ValueError) for "
      "invalid JSON and OSError when the\n"
      "file cannot be read.");
}

}  // namespace npn::bindings
