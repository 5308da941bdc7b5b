// The doctest runner for every tests/cpp/test_*.cpp.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

// Sanitizer findings fail the test instead of printing and continuing, however the
// test is started (ctest runs each case in its own process). A *SAN_OPTIONS variable
// in the environment still overrides these; without a sanitizer they are unused.
extern "C" const char* __asan_default_options() { return "detect_leaks=1:abort_on_error=0"; }
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }
extern "C" const char* __tsan_default_options() { return "halt_on_error=1"; }
