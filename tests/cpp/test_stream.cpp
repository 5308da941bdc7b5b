// Streamed responses: the sink, per-request token metrics and goodput, and the runner's
// streamed runs on the native stream model (closed and open loop, records, windows).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>

#include "common/errors.h"
#include "engine/runner.h"
#include "engine/stream.h"
#include "models/native_models.h"

using namespace npn;

namespace {

std::shared_ptr<Pipeline> stream_pipeline(int64_t first_ns, int64_t token_ns, int64_t tokens) {
  StreamSpinSettings s;
  s.first_token_ns = first_ns;
  s.token_ns = token_ns;
  s.tokens = tokens;
  return std::make_shared<NativePipeline>(std::make_shared<StreamSpinModel>(s));
}

RunSettings streamed(int64_t requests, int workers = 1) {
  RunSettings s;
  s.workers = workers;
  s.max_iterations = requests;
  s.warmup = 2;
  s.stream.enabled = true;
  return s;
}

// A sink filled with items of `tokens` tokens at the given times.
StreamSink sink_of(const std::vector<std::pair<int64_t, int64_t>>& items, int64_t input = -1) {
  StreamSink sink;
  sink.reset();
  sink.set_input_tokens(input);
  for (const auto& [tokens, at] : items) sink.item_at(tokens, at);
  return sink;
}

}  // namespace

TEST_CASE("the sink keeps first and last stamps, the gaps and the tokens; 0 tokens is no item") {
  StreamSink sink = sink_of({{0, 50}, {1, 100}, {3, 130}, {0, 140}, {1, 190}});
  CHECK(sink.items() == 3);
  CHECK(sink.tokens() == 5);
  CHECK(sink.first_ns() == 100);
  CHECK(sink.last_ns() == 190);
  CHECK(sink.gaps_ns() == std::vector<int64_t>{30, 60});
  sink.reset();
  CHECK(sink.items() == 0);
  CHECK(sink.tokens() == 0);
  CHECK(sink.gaps_ns().empty());
  CHECK(sink.input_tokens() == -1);
}

TEST_CASE("a request's TTFT counts from when it was due; TPOT spreads the rest over tokens - 1") {
  StreamConfig config;
  config.enabled = true;
  TokenStats stats;
  std::array<Histogram, kTokenMetricCount> window;
  // Due at 1000, first token at 3000, then 4 tokens over 8000 ns (items of 1, 2, 1 tokens).
  const StreamSink sink = sink_of({{1, 3000}, {2, 5000}, {1, 11000}}, 17);
  const RequestTokens r = record_request(config, sink, 1000, 12000, stats, window.data());
  CHECK(r.ttft_ns == 2000);
  CHECK(r.tpot_ns == 8000 / 3);
  CHECK(r.good);
  CHECK(stats.requests == 1);
  CHECK(stats.ttft.count() == 1);
  CHECK(stats.ttft.value_at_percentile(50) == stats.ttft.highest_equivalent(2000));
  CHECK(stats.itl.count() == 2);
  CHECK(stats.itl.min() == stats.itl.lowest_equivalent(2000));
  CHECK(stats.itl.max() == stats.itl.highest_equivalent(6000));
  CHECK(stats.output_tokens_total == 4);
  CHECK(stats.input_tokens_total == 17);
  CHECK(stats.user_rate_count == 1);
  CHECK(stats.user_rate_sum == doctest::Approx(3 * 1e9 / 8000));
  CHECK(window[static_cast<size_t>(TokenMetric::kTtft)].count() == 1);
  CHECK(window[static_cast<size_t>(TokenMetric::kItl)].count() == 2);
  CHECK(window[static_cast<size_t>(TokenMetric::kTpot)].count() == 1);
}

TEST_CASE("goodput: a request is good only when it meets every SLO given") {
  StreamSettings settings;
  settings.enabled = true;
  settings.goodput_ttft_ms = 0.002;  // 2000 ns
  settings.goodput_tpot_ms = 0.001;  // 1000 ns
  const StreamConfig config = make_stream_config(settings);
  TokenStats stats;
  auto good = [&](const StreamSink& sink, int64_t e2e) {
    return record_request(config, sink, 0, e2e, stats, nullptr).good;
  };
  CHECK(good(sink_of({{1, 2000}, {1, 3000}}), 5000));        // at both limits
  CHECK_FALSE(good(sink_of({{1, 2001}, {1, 3000}}), 5000));  // TTFT over
  CHECK_FALSE(good(sink_of({{1, 1000}, {1, 2001}}), 5000));  // TPOT over
  CHECK(good(sink_of({{1, 1500}}), 9000));                   // one token: no TPOT to miss
  CHECK_FALSE(good(sink_of({}), 10));                        // no token misses TTFT
  CHECK(stats.good_requests == 2);
  CHECK(stats.empty_requests == 1);
  CHECK(stats.requests == 5);

  StreamSettings e2e_only;
  e2e_only.enabled = true;
  e2e_only.goodput_e2e_ms = 0.005;
  const StreamConfig e2e_config = make_stream_config(e2e_only);
  CHECK(record_request(e2e_config, sink_of({}), 0, 5000, stats, nullptr).good);
  CHECK_FALSE(record_request(e2e_config, sink_of({{1, 10}}), 0, 5001, stats, nullptr).good);
}

TEST_CASE("stream settings are validated with the setting named") {
  StreamSettings s;
  s.goodput_ttft_ms = 5.0;
  CHECK_THROWS_WITH_AS(make_stream_config(s), doctest::Contains("need streaming"), InvalidArgument);
  s.enabled = true;
  for (double bad : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    s.goodput_tpot_ms = bad;
    CHECK_THROWS_WITH_AS(make_stream_config(s), doctest::Contains("goodput tpot_ms"),
                         InvalidArgument);
  }
  StreamSpinSettings spin;
  spin.tokens = 0;
  CHECK_THROWS_AS(StreamSpinModel{spin}, InvalidArgument);
}

TEST_CASE("a streamed run on the native stream model measures its schedule") {
  const int64_t first = 400'000, gap = 100'000, tokens = 6, requests = 30;
  Runner runner(stream_pipeline(first, gap, tokens), streamed(requests, 2));
  const RunResult r = runner.run();
  REQUIRE(r.status == RunStatus::kFinished);
  REQUIRE(r.tokens.has_value());
  const TokenStats& t = *r.tokens;
  CHECK(t.requests == requests);
  CHECK(t.empty_requests == 0);
  CHECK(t.good_requests == requests);
  CHECK(t.output_tokens_total == requests * tokens);
  CHECK(t.output_tokens.count() == requests);
  CHECK(t.output_tokens.min() == tokens);
  CHECK(t.input_tokens.count() == 0);  // a native source without prompts
  CHECK(t.ttft.count() == requests);
  CHECK(t.itl.count() == requests * (tokens - 1));
  CHECK(t.tpot.count() == requests);
  // Due times count from the call's start, so nothing arrives early (a preempted item
  // may arrive late, and the ones due meanwhile right after it).
  CHECK(t.ttft.min() >= t.ttft.lowest_equivalent(first));
  CHECK(r.stage(Stage::kE2E).count() == requests);
  CHECK(r.stage(Stage::kE2E).min() >= first + (tokens - 1) * gap - 1000);
  CHECK(r.requests.empty());
  // Window histograms hold exactly the token metrics' values.
  REQUIRE(r.token_window_histograms.size() == static_cast<size_t>(kTokenMetricCount));
  int64_t ttft_in_windows = 0, itl_in_windows = 0;
  for (const auto& h : r.token_window_histograms[0]) ttft_in_windows += h.count();
  for (const auto& h : r.token_window_histograms[1]) itl_in_windows += h.count();
  CHECK(ttft_in_windows == requests);
  CHECK(itl_in_windows == requests * (tokens - 1));
}

TEST_CASE("record_requests keeps each timed request's stamps and counts, in order") {
  RunSettings s = streamed(12, 3);
  s.stream.record_requests = true;
  Runner runner(stream_pipeline(50'000, 20'000, 3), s);
  const RunResult r = runner.run();
  REQUIRE(r.status == RunStatus::kFinished);
  REQUIRE(r.requests.size() == 12);
  for (const RequestRecord& q : r.requests) {
    CHECK(q.worker >= 0);
    CHECK(q.worker < 3);
    CHECK(q.scheduled_ns <= q.start_ns);
    CHECK(q.start_ns + 50'000 <= q.first_token_ns);
    CHECK(q.first_token_ns <= q.last_token_ns);
    CHECK(q.start_ns + 50'000 + 2 * 20'000 <= q.last_token_ns);
    CHECK(q.last_token_ns <= q.end_ns);
    CHECK(q.output_tokens == 3);
    CHECK(q.items == 3);
    CHECK(q.input_tokens == -1);
  }
}

TEST_CASE("open loop: a stalled request delays the TTFT of those queued behind it") {
  // One worker, requests every 1 ms, each streaming 3 ms: the queue grows, and since
  // TTFT counts from when a request was due, the waiting shows in TTFT (no omission).
  RunSettings s = streamed(20, 1);
  s.warmup = 0;
  s.request_rate = 1000.0;
  Runner runner(stream_pipeline(2'000'000, 500'000, 3), s);
  const RunResult r = runner.run();
  REQUIRE(r.status == RunStatus::kFinished);
  const TokenStats& t = *r.tokens;
  CHECK(t.requests == 20);
  // Request k cannot start before k * 3 ms of service and was due at k ms: its TTFT is at
  // least 2 ms + 2k ms (from its actual start, every TTFT would be about 2 ms).
  CHECK(t.ttft.max() >= t.ttft.lowest_equivalent(2'000'000 + 2 * 19 * 1'000'000));
  CHECK(r.stage(Stage::kScheduleLag).max() >=
        r.stage(Stage::kScheduleLag).lowest_equivalent(2 * 19 * 1'000'000));
}
