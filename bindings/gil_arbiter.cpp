#include "gil_arbiter.h"

namespace py = pybind11;

namespace npn::bindings {

GilArbiter& gil_arbiter() noexcept {
  static GilArbiter arbiter;
  return arbiter;
}

int64_t switch_interval_ns() {
  const double seconds = py::module_::import("sys").attr("getswitchinterval")().cast<double>();
  return static_cast<int64_t>(seconds * 1e9);
}

}  // namespace npn::bindings
