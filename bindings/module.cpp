// The _engine extension module: registers each area's bindings and maps the
// engine's C++ exceptions to Python ones. No logic lives here.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "common/errors.h"

namespace py = pybind11;

PYBIND11_MODULE(_engine, m) {
  m.doc() = "neuronperf_native's compiled timing engine";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const npn::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const npn::DecodeError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  npn::bindings::bind_base64(m);
  npn::bindings::bind_channel(m);
  npn::bindings::bind_histogram(m);
  npn::bindings::bind_interval_trace(m);
  npn::bindings::bind_json_reader(m);
  npn::bindings::bind_process(m);
  npn::bindings::bind_runner(m);
#ifdef NPN_SERVED
  npn::bindings::bind_served(m);
#endif
  npn::bindings::bind_interpreter_exit(m);
}
