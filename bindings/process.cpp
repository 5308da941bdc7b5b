// Bindings for process lifetime helpers used inside model-copy processes.
#include <pybind11/stl.h>

#include "bindings.h"
#include "engine/parent_death.h"

namespace py = pybind11;

namespace npn::bindings {

void bind_process(py::module_& m) {
  m.def("kill_group_on_parent_death", &kill_group_on_parent_death, py::arg("expected_parent"),
        "Kill this process's group when its parent dies (or now, if it already has).");
  m.def("kill_group_now", &kill_group_now,
        "What the parent-death signal does, now: remove the registered files and kill this "
        "process's group, this process included.");
  m.def("unlink_on_parent_death", &unlink_on_parent_death, py::arg("path"),
        "Remove this file when the parent dies, before the group is killed.");
}

}  // namespace npn::bindings
