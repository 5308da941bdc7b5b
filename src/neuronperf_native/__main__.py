"""`python -m neuronperf_native` runs the command line."""

import sys

from neuronperf_native.cli import main

sys.exit(main())
