// One registration function per area of the engine.
#pragma once

#include <pybind11/pybind11.h>

namespace npn::bindings {

void bind_base64(pybind11::module_& m);
void bind_channel(pybind11::module_& m);
void bind_histogram(pybind11::module_& m);
void bind_json_reader(pybind11::module_& m);
void bind_process(pybind11::module_& m);
void bind_runner(pybind11::module_& m);
void bind_interpreter_exit(pybind11::module_& m);
void bind_interval_trace(pybind11::module_& m);

}  // namespace npn::bindings
