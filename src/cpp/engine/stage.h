// The timed stages of one inference iteration.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace npn {

// An iteration passes boundaries b0..b6 in this order; stage k lasts from boundary k
// to boundary k + 1, and e2e from b0 to b6. b0 is when the request was due: its
// scheduled time in open loop, the previous iteration's end in closed loop (where
// b1 == b0 and schedule_lag is not recorded).
enum class Stage : int8_t {
  kScheduleLag,
  kGilWait,
  kInput,
  kPreprocess,
  kInfer,
  kPostprocess,
  kE2E
};

inline constexpr int kStageCount = 7;
inline constexpr int kBoundaryCount = 7;

inline constexpr std::array<std::string_view, kStageCount> kStageNames = {
    "schedule_lag", "gil_wait", "input", "preprocess", "infer", "postprocess", "e2e"};

constexpr std::string_view stage_name(Stage stage) {
  return kStageNames[static_cast<size_t>(stage)];
}

}  // namespace npn
