// Binding of IntervalTrace: replayed request intervals, read and shared natively.
// Reading and mapping run without the GIL; pickling carries the written form.
#include "engine/interval_trace.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bindings.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

// pybind11 holds a trace as a shared_ptr to non-const; nothing here mutates it.
using Trace = std::shared_ptr<IntervalTrace>;
Trace held(std::shared_ptr<const IntervalTrace> trace) {
  return std::const_pointer_cast<IntervalTrace>(std::move(trace));
}

}  // namespace

void bind_interval_trace(py::module_& m) {
  m.attr("MAX_TRACE_INTERVALS") = IntervalTrace::kMaxIntervals;
  m.attr("MAX_TRACE_LINE_BYTES") = IntervalTrace::kMaxLineBytes;
  m.attr("MIN_INTERVAL_US") = IntervalTrace::kMinIntervalUs;
  m.attr("MAX_INTERVAL_US") = IntervalTrace::kMaxIntervalUs;
  py::class_<IntervalTrace, Trace>(m, "IntervalTrace",
                                   "Replayed request intervals (see engine.IntervalTrace).")
      .def_static(
          "read_text",
          [](const std::string& path, int64_t max_intervals) {
            return held(IntervalTrace::read_text(path, max_intervals));
          },
          py::arg("path"), py::arg("max_intervals") = IntervalTrace::kMaxIntervals,
          py::call_guard<py::gil_scoped_release>())
      .def_static(
          "of_us",
          [](py::array_t<double, py::array::c_style | py::array::forcecast> intervals_us,
             const std::string& name) {
            std::vector<double> values(intervals_us.data(),
                                       intervals_us.data() + intervals_us.size());
            py::gil_scoped_release nogil;
            return held(IntervalTrace::of_us(values, name));
          },
          py::arg("intervals_us"), py::arg("name"))
      .def_static(
          "map", [](const std::string& path) { return held(IntervalTrace::map(path)); },
          py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def("write", &IntervalTrace::write, py::arg("path"),
           py::call_guard<py::gil_scoped_release>())
      .def("__len__", &IntervalTrace::size)
      .def_property_readonly("cycle_ns", &IntervalTrace::cycle_ns)
      .def_property_readonly("max_interval_ns", &IntervalTrace::max_interval_ns)
      .def_property_readonly("digest", &IntervalTrace::digest)
      .def("arrival_ns", &IntervalTrace::arrival_ns, py::arg("index"))
      .def("offsets_ns",
           [](const IntervalTrace& trace) {
             return py::array_t<int64_t>(static_cast<py::ssize_t>(trace.size() + 1),
                                         trace.offsets());  // a copy
           })
      .def("arrived_by", &IntervalTrace::arrived_by, py::arg("t_ns"))
      .def(py::pickle(
          [](const IntervalTrace& trace) {
            std::string data = trace.to_bytes();
            return py::bytes(data);
          },
          [](const py::bytes& data) {
            const std::string_view view = data;
            return held(IntervalTrace::from_bytes(view));
          }));
}

}  // namespace npn::bindings
