"""``import neuronperf`` in a model process that `neuronperf-native run` spawned.

run_script puts the folder holding this package on sys.path, which spawned
children inherit: when a child re-runs the script (to unpickle objects defined
there), its ``import neuronperf`` lands here, installs the alias and hands
back ``neuronperf_native``.
"""

import sys

from neuronperf_native import launcher

del sys.modules[__name__]  # this shim; from here on the alias serves neuronperf
launcher.install_alias()
sys.modules[__name__] = sys.modules[launcher.TARGET]
