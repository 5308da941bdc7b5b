// The timed stages of one inference iteration.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace npn {

// An iteration passes boundaries b0..b5 in this order; stage k lasts from
// boundary k to boundary k+1, and e2e from b0 to b5.
enum class Stage : int8_t { kGilWait, kInput, kPreprocess, kInfer, kPostprocess, kE2E };

inline constexpr int kStageCount = 6;
inline constexpr int kBoundaryCount = 6;

inline constexpr std::array<std::string_view, kStageCount> kStageNames = {
    "gil_wait", "input", "preprocess", "infer", "postprocess", "e2e"};

constexpr std::string_view stage_name(Stage stage) {
  return kStageNames[static_cast<size_t>(stage)];
}

}  // namespace npn
