"""Statistics on measured runs: pure functions on numbers and histograms.

Nothing here knows how a benchmark runs; callers pass window series and HDR
histograms. `significance` decides whether two runs differ.
"""
