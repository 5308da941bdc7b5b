// Streamed responses: each item of a request's response stamped on arrival, and the
// token-level metrics (TTFT, ITL, TPOT, token counts, goodput) they give.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "histogram/histogram.h"

namespace npn {

// The token latencies kept per window besides e2e (so stability and intervals can use them).
enum class TokenMetric : int8_t { kTtft, kItl, kTpot };
inline constexpr int kTokenMetricCount = 3;
inline constexpr std::array<std::string_view, kTokenMetricCount> kTokenMetricNames = {"ttft", "itl",
                                                                                      "tpot"};

// What a caller asks for; names and units match the Python keywords.
struct StreamSettings {
  bool enabled = false;
  // Goodput SLOs: a request is good when it meets every one given (DistServe's goodput).
  std::optional<double> goodput_ttft_ms;
  std::optional<double> goodput_tpot_ms;
  std::optional<double> goodput_e2e_ms;
  bool record_requests = false;  // keep one RequestRecord per timed request
};

// Validated stream settings in engine units (0: no such SLO).
struct StreamConfig {
  bool enabled = false;
  int64_t slo_ttft_ns = 0;
  int64_t slo_tpot_ns = 0;
  int64_t slo_e2e_ns = 0;
  bool record_requests = false;
};

// Throws InvalidArgument naming the setting when an SLO is not a finite number of ms > 0,
// or when SLOs or record_requests are given without streaming.
StreamConfig make_stream_config(const StreamSettings& settings);

// One timed request's stamps (shared clock, ns) and counts; -1 where there is none (no
// item: no first/last token time; input tokens unknown).
struct RequestRecord {
  int64_t worker;
  int64_t scheduled_ns;  // when it was due (b0)
  int64_t start_ns;      // when its worker began it (b1)
  int64_t first_token_ns;
  int64_t last_token_ns;
  int64_t end_ns;  // when its stream ended (b6)
  int64_t input_tokens;
  int64_t output_tokens;
  int64_t items;
};
inline constexpr int kRequestRecordFields = 9;
static_assert(sizeof(RequestRecord) == kRequestRecordFields * sizeof(int64_t));

// Collects one request's items as the pipeline's stream delivers them. Used by one
// worker thread; reset() before each request. It writes only to itself (the gaps are
// recorded into histograms when the request ends), so a stream that outlives the
// watchdog's call timeout touches nothing the run's result is merged from.
class StreamSink {
 public:
  void reset() noexcept {
    gaps_ns_.clear();
    tokens_ = 0;
    first_ns_ = last_ns_ = 0;
    input_tokens_ = -1;
  }
  // The request's prompt length, when the pipeline knows it.
  void set_input_tokens(int64_t tokens) noexcept { input_tokens_ = tokens; }
  // An item of `tokens` tokens arrived now (stamped here) or at at_ns (a source that
  // stamps its own arrivals, e.g. network chunks). Items of 0 tokens are not items.
  void item(int64_t tokens) { item_at(tokens, now_ns()); }
  void item_at(int64_t tokens, int64_t at_ns) {
    if (tokens <= 0) return;
    if (tokens_ > 0) {
      gaps_ns_.push_back(at_ns - last_ns_);
    } else {
      first_ns_ = at_ns;
    }
    last_ns_ = at_ns;
    tokens_ += tokens;
  }

  int64_t items() const noexcept {
    return tokens_ > 0 ? static_cast<int64_t>(gaps_ns_.size()) + 1 : 0;
  }
  int64_t tokens() const noexcept { return tokens_; }
  int64_t first_ns() const noexcept { return first_ns_; }
  int64_t last_ns() const noexcept { return last_ns_; }
  int64_t input_tokens() const noexcept { return input_tokens_; }
  const std::vector<int64_t>& gaps_ns() const noexcept { return gaps_ns_; }

 private:
  std::vector<int64_t> gaps_ns_;  // between consecutive items; capacity kept across requests
  int64_t tokens_ = 0;
  int64_t first_ns_ = 0;
  int64_t last_ns_ = 0;
  int64_t input_tokens_ = -1;
};

// Token metrics of many requests: one worker's (written by it alone), or merged.
struct TokenStats {
  Histogram ttft;              // first item - when the request was due (ns)
  Histogram itl;               // gaps between consecutive items (ns)
  Histogram tpot;              // (last item - first item) / (tokens - 1), requests with > 1 token
  Histogram input_tokens;      // per request, where known
  Histogram output_tokens;     // per request
  int64_t requests = 0;        // timed streamed requests completed
  int64_t empty_requests = 0;  // streams that ended without a token
  int64_t good_requests = 0;   // met every goodput SLO (every request when none is given)
  int64_t input_tokens_total = 0;
  int64_t output_tokens_total = 0;
  double user_rate_sum = 0.0;   // sum of (tokens - 1) / (last - first) in tokens/s ...
  int64_t user_rate_count = 0;  // ... over the requests with > 1 token

  void merge(const TokenStats& other);  // throws InvalidArgument as Histogram::merge
};

// A finished request's token metrics as the runner derives them from its sink.
struct RequestTokens {
  bool has_first = false;
  int64_t ttft_ns = 0;
  bool has_tpot = false;
  int64_t tpot_ns = 0;
  bool good = false;
};

// A finished request: TTFT from `scheduled_ns`, its ITL gaps, TPOT, token counts and
// whether it met `config`'s SLOs given its e2e latency, recorded into `stats` and (TTFT,
// ITL, TPOT, indexed by TokenMetric) into `window` when not null.
RequestTokens record_request(const StreamConfig& config, const StreamSink& sink,
                             int64_t scheduled_ns, int64_t e2e_ns, TokenStats& stats,
                             Histogram* window) noexcept;

}  // namespace npn
