#include "engine/wakeup.h"

#include <algorithm>

namespace npn {

WakeupMargin::WakeupMargin(int64_t spin_ns, int64_t cap_ns, bool learn) noexcept
    : spin_ns_(std::min(spin_ns, cap_ns)),
      cap_ns_(cap_ns),
      learn_(learn),
      margin_ns_(std::min(spin_ns, cap_ns)) {}

void WakeupMargin::observe(int64_t late_ns) noexcept {
  if (!learn_) return;
  recent_[static_cast<size_t>(samples_ % kSamples)] = std::max<int64_t>(late_ns, 0);
  ++samples_;
  const auto n = static_cast<size_t>(std::min<int64_t>(samples_, kSamples));
  std::array<int64_t, kSamples> sorted = recent_;
  const auto rank = static_cast<size_t>(static_cast<double>(n) * kQuantile);
  const auto at = sorted.begin() + static_cast<std::ptrdiff_t>(std::min(rank, n - 1));
  std::nth_element(sorted.begin(), at, sorted.begin() + static_cast<std::ptrdiff_t>(n));
  margin_ns_ = std::min(cap_ns_, spin_ns_ + std::min(*at, kMaxLearnedNs));
}

}  // namespace npn
