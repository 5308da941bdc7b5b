// WakeupMargin: how early an open-loop worker wakes, learned from its sleeps' lateness.
#include <doctest/doctest.h>

#include <cstdint>

#include "engine/wakeup.h"

using namespace npn;

TEST_CASE("the margin learns a steady lateness from the first sleep") {
  WakeupMargin m(2'000, 1'000'000, true);
  CHECK(m.margin_ns() == 2'000);  // nothing learned yet: the floor
  m.observe(80'000);
  CHECK(m.margin_ns() == 82'000);                                    // floor + lateness
  for (int i = 0; i < 64; ++i) m.observe(60'000 + (i % 8) * 5'000);  // 60 .. 95 us
  // the 7/8 quantile of the last 32: 95 us (the top eighth), plus the floor
  CHECK(m.margin_ns() == 97'000);
  CHECK(m.samples() == 65);
}

TEST_CASE("a preemption now and then does not raise the margin") {
  WakeupMargin m(0, 1'000'000'000, true);
  for (int i = 0; i < 32; ++i) m.observe(i == 10 ? 200'000 : 50'000);
  CHECK(m.margin_ns() == 50'000);
  for (int i = 0; i < 2; ++i) m.observe(240'000);  // three of the last 32: under 1/8
  CHECK(m.margin_ns() == 50'000);
  m.observe(-10'000);  // woke early: counts as on time
  CHECK(m.margin_ns() == 50'000);
}

TEST_CASE("the margin follows a change of the machine within kSamples sleeps") {
  WakeupMargin m(0, 1'000'000, true);
  for (int i = 0; i < 32; ++i) m.observe(100'000);
  CHECK(m.margin_ns() == 100'000);
  for (int i = 0; i < 32; ++i) m.observe(5'000);
  CHECK(m.margin_ns() == 5'000);
}

TEST_CASE("the margin is capped; without learning it is the fixed spin") {
  WakeupMargin capped(0, 50'000, true);
  capped.observe(200'000);
  CHECK(capped.margin_ns() == 50'000);
  WakeupMargin busy(1'000, 1'000'000'000, true);
  for (int i = 0; i < 32; ++i) busy.observe(3'000'000);  // a busy core, not a wake-up
  CHECK(busy.margin_ns() == 1'000 + WakeupMargin::kMaxLearnedNs);
  WakeupMargin fixed(20'000, 1'000'000, false);
  for (int i = 0; i < 10; ++i) fixed.observe(300'000);
  CHECK(fixed.margin_ns() == 20'000);
  CHECK(fixed.samples() == 0);
  CHECK(WakeupMargin(20'000, 5'000, false).margin_ns() == 5'000);
}
