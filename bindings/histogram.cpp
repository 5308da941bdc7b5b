// Python binding of npn::Histogram. Argument checking that C++ leaves to the
// caller (negative values, bad percentiles) happens here, so Python users get
// a ValueError naming the argument; the engine's own errors are translated in
// module.cpp. record_many releases the GIL while it records.
#include "histogram/histogram.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "bindings.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// A Python int (or anything with __index__) as a value to record: negative is
// an error, beyond int64 saturates like any value above highest.
int64_t value_from_python(const py::handle& obj) {
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow < 0 || (overflow == 0 && v < 0)) {
    throw py::value_error("value must be >= 0, got " + py::str(index).cast<std::string>());
  }
  return overflow > 0 ? kInt64Max : static_cast<int64_t>(v);
}

double checked_percentile(double p) {
  if (!(p >= 0.0 && p <= 100.0)) {
    std::ostringstream msg;
    msg << "percentile must be in [0, 100], got " << p;
    throw py::value_error(msg.str());
  }
  return p;
}

template <typename T>
void record_signed(Histogram& h, const py::array& values) {
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(values);
  if (!arr) throw py::error_already_set();
  const T* data = arr.data();
  const py::ssize_t n = arr.size();
  bool negative = false;
  {
    py::gil_scoped_release release;
    T lowest = 0;
    for (py::ssize_t i = 0; i < n; ++i) lowest = data[i] < lowest ? data[i] : lowest;
    negative = lowest < 0;
    if (!negative) {
      for (py::ssize_t i = 0; i < n; ++i) h.record(static_cast<int64_t>(data[i]));
    }
  }
  if (negative) throw py::value_error("values must be >= 0, got a negative value");
}

template <typename T>
void record_unsigned(Histogram& h, const py::array& values) {
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(values);
  if (!arr) throw py::error_already_set();
  const T* data = arr.data();
  const py::ssize_t n = arr.size();
  py::gil_scoped_release release;
  for (py::ssize_t i = 0; i < n; ++i) {
    const uint64_t v = data[i];
    h.record(v > static_cast<uint64_t>(kInt64Max) ? kInt64Max : static_cast<int64_t>(v));
  }
}

// Floats are rounded to the nearest integer (ties to even, like numpy.rint).
void record_floating(Histogram& h, const py::array& values) {
  auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(values);
  if (!arr) throw py::error_already_set();
  const double* data = arr.data();
  const py::ssize_t n = arr.size();
  bool invalid = false;
  {
    py::gil_scoped_release release;
    for (py::ssize_t i = 0; i < n && !invalid; ++i) invalid = !(data[i] >= 0.0);  // also NaN
    if (!invalid) {
      constexpr double kTwoTo63 = 9223372036854775808.0;
      for (py::ssize_t i = 0; i < n; ++i) {
        const double r = std::nearbyint(data[i]);
        h.record(r >= kTwoTo63 ? kInt64Max : static_cast<int64_t>(r));
      }
    }
  }
  if (invalid) throw py::value_error("values must be >= 0 and not NaN");
}

void record_many(Histogram& h, const py::object& obj) {
  const py::array values = py::array::ensure(obj);
  if (!values) throw py::type_error("values must be a numpy array or a sequence of numbers");
  const char kind = values.dtype().kind();
  const py::ssize_t size = values.dtype().itemsize();
  if (kind == 'i') {
    if (size == 1) return record_signed<int8_t>(h, values);
    if (size == 2) return record_signed<int16_t>(h, values);
    if (size == 4) return record_signed<int32_t>(h, values);
    return record_signed<int64_t>(h, values);
  }
  if (kind == 'u') {
    if (size == 1) return record_unsigned<uint8_t>(h, values);
    if (size == 2) return record_unsigned<uint16_t>(h, values);
    if (size == 4) return record_unsigned<uint32_t>(h, values);
    return record_unsigned<uint64_t>(h, values);
  }
  if (kind == 'f') return record_floating(h, values);
  throw py::type_error("values must have an integer or floating dtype, got " +
                       py::str(values.dtype()).cast<std::string>());
}

std::string data_from_python(const py::object& data) {
  if (py::isinstance<py::str>(data)) return data.cast<std::string>();
  if (py::isinstance<py::bytes>(data)) return data.cast<std::string>();
  if (PyByteArray_Check(data.ptr()) || PyMemoryView_Check(data.ptr())) {
    auto copy = py::reinterpret_steal<py::bytes>(PyBytes_FromObject(data.ptr()));
    if (!copy) throw py::error_already_set();
    return copy.cast<std::string>();
  }
  throw py::type_error("data must be str, bytes, bytearray or memoryview");
}

bool equal(const Histogram& a, const Histogram& b) {
  if (!a.same_settings(b) || a.count() != b.count()) return false;
  const auto x = a.buckets();
  const auto y = b.buckets();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].lowest != y[i].lowest || x[i].count != y[i].count) return false;
  }
  return true;
}

std::string repr(const Histogram& h) {
  std::ostringstream out;
  out << "Histogram(count=" << h.count() << ", min=" << h.min()
      << ", p50=" << h.value_at_percentile(50) << ", p99=" << h.value_at_percentile(99)
      << ", max=" << h.max();
  if (h.saturated_count() != 0) out << ", saturated=" << h.saturated_count();
  out << ", lowest=" << h.lowest() << ", highest=" << h.highest()
      << ", digits=" << h.significant_digits() << ")";
  return out.str();
}

}  // namespace

void bind_histogram(py::module_& m) {
  py::class_<Histogram>(m, "Histogram", R"doc(
HDR histogram of integer nanosecond values (HdrHistogram algorithm).

Values are kept to `digits` significant decimal digits between `lowest` and
`highest`; values above `highest` are recorded as `highest` and counted in
`saturated_count`. Percentiles report the highest value equivalent to the
bucket that holds the p-th percentile, as HdrHistogram does. Not thread-safe.
Encodings are the standard HdrHistogram V2 compressed format (readable by the
`hdrhistogram` package); `saturated_count` is not part of that format.)doc")
      .def(py::init<int64_t, int64_t, int>(), py::arg("lowest") = Histogram::kDefaultLowest,
           py::arg("highest") = Histogram::kDefaultHighest,
           py::arg("digits") = Histogram::kDefaultDigits)
      .def(
          "record",
          [](Histogram& h, const py::object& value) { h.record(value_from_python(value)); },
          py::arg("value"), "Record one integer value (ns).")
      .def("record_many", &record_many, py::arg("values"),
           "Record every value of an array (integer dtypes, or floats rounded to nearest).")
      .def_property_readonly("count", &Histogram::count)
      .def_property_readonly("saturated_count", &Histogram::saturated_count)
      .def_property_readonly("min", &Histogram::min)
      .def_property_readonly("max", &Histogram::max)
      .def_property_readonly("mean", &Histogram::mean)
      .def_property_readonly("stddev", &Histogram::stddev)
      .def_property_readonly("lowest", &Histogram::lowest)
      .def_property_readonly("highest", &Histogram::highest)
      .def_property_readonly("digits", &Histogram::significant_digits)
      .def(
          "value_at_percentile",
          [](const Histogram& h, double p) { return h.value_at_percentile(checked_percentile(p)); },
          py::arg("percentile"))
      .def(
          "percentiles",
          [](const Histogram& h, const std::vector<double>& ps) {
            std::vector<int64_t> out;
            out.reserve(ps.size());
            for (const double p : ps) out.push_back(h.value_at_percentile(checked_percentile(p)));
            return out;
          },
          py::arg("percentiles"))
      .def("buckets",
           [](const Histogram& h) {
             py::list out;
             for (const auto& b : h.buckets()) {
               out.append(py::make_tuple(b.lowest, b.highest_equivalent, b.count));
             }
             return out;
           })
      .def(
          "merge",
          [](py::object self, const Histogram& other) {
            self.cast<Histogram&>().merge(other);
            return self;
          },
          py::arg("other"), "Add other's counts to this histogram (same settings); returns self.")
      .def("__add__",
           [](const Histogram& a, const Histogram& b) {
             Histogram sum = a;
             sum.merge(b);
             return sum;
           })
      .def("__iadd__",
           [](py::object self, const Histogram& other) {
             self.cast<Histogram&>().merge(other);
             return self;
           })
      .def("reset", &Histogram::reset)
      .def("encode", &Histogram::encode_base64, "The V2 compressed encoding as base64 text.")
      .def("encode_bytes", [](const Histogram& h) { return py::bytes(h.encode()); })
      .def_static(
          "decode",
          [](const py::object& data) {
            const std::string text = data_from_python(data);
            return Histogram::decode_base64(text);
          },
          py::arg("data"))
      .def_static(
          "decode_bytes",
          [](const py::object& data) {
            const std::string raw = data_from_python(data);
            return Histogram::decode(raw);
          },
          py::arg("data"))
      .def("__eq__",
           [](const Histogram& a, const py::object& b) -> py::object {
             if (!py::isinstance<Histogram>(b))
               return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             return py::bool_(equal(a, b.cast<const Histogram&>()));
           })
      .def("__repr__", &repr)
      .def(py::pickle(
          [](const Histogram& h) { return py::bytes(h.encode()); },
          [](const py::bytes& state) { return Histogram::decode(state.cast<std::string>()); }));
}

}  // namespace npn::bindings
