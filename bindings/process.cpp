// Bindings for process lifetime helpers used inside model-copy processes.
#include "parent_death.h"

#include "bindings.h"

namespace py = pybind11;

namespace npn::bindings {

void bind_process(py::module_& m) {
  m.def("kill_group_on_parent_death", &kill_group_on_parent_death, py::arg("expected_parent"),
        "Kill this process's group when its parent dies (or now, if it already has).");
}

}  // namespace npn::bindings
