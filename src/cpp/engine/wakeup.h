// How early an open-loop worker wakes for its next request: sleeps end late (timer
// slack, the scheduler, an idle core leaving a sleep state), by tens of microseconds
// on an idle machine, so a worker that slept until the due time would start late by
// as much and charge the model for it. Each worker learns its own lateness and wakes
// that much early, then spins only the remaining margin.
#pragma once

#include <array>
#include <cstdint>

namespace npn {

// One per worker; not shared.
class WakeupMargin {
 public:
  // The margin is a high quantile of the lateness of the last kSamples sleeps: robust
  // to a preemption now and then (a mean would spin milliseconds after each), quick to
  // follow a change (the machine getting busy or idle).
  static constexpr int kSamples = 32;
  static constexpr double kQuantile = 7.0 / 8;
  // The most lateness learned: waking from an idle core's deepest sleep state takes
  // less; beyond it a sleep was late because the core was busy with other work, which
  // spinning on it would only make worse.
  static constexpr int64_t kMaxLearnedNs = 250'000;

  // spin_ns: always spun (the margin's floor); cap_ns: the most the margin may be
  // (it bounds the CPU spent spinning); learn=false wakes exactly spin_ns early.
  WakeupMargin(int64_t spin_ns, int64_t cap_ns, bool learn) noexcept;

  // How long before the due time to wake: spin_ns + the kQuantile of the recent
  // lateness (of those seen so far, before kSamples; at most kMaxLearnedNs), at most
  // cap_ns.
  int64_t margin_ns() const noexcept { return margin_ns_; }
  // A sleep asked to end at W ended at W + late_ns.
  void observe(int64_t late_ns) noexcept;
  int64_t samples() const noexcept { return samples_; }

 private:
  const int64_t spin_ns_;
  const int64_t cap_ns_;
  const bool learn_;
  std::array<int64_t, kSamples> recent_{};  // a ring of the last lateness samples
  int64_t samples_ = 0;
  int64_t margin_ns_;
};

}  // namespace npn
