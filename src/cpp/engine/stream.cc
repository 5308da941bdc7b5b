#include "engine/stream.h"

#include <cmath>
#include <sstream>
#include <string>

#include "common/errors.h"

namespace npn {
namespace {

int64_t slo_ns(const char* name, const std::optional<double>& ms) {
  if (!ms) return 0;
  const double value = *ms;
  if (!std::isfinite(value) || !(value > 0) || value > 3.6e6) {
    std::ostringstream out;
    out << name << " must be a finite number of ms in (0, 3.6e6], got " << value;
    throw InvalidArgument(out.str());
  }
  return std::max<int64_t>(1, std::llround(value * 1e6));
}

}  // namespace

StreamConfig make_stream_config(const StreamSettings& s) {
  StreamConfig c;
  c.enabled = s.enabled;
  c.slo_ttft_ns = slo_ns("goodput ttft_ms", s.goodput_ttft_ms);
  c.slo_tpot_ns = slo_ns("goodput tpot_ms", s.goodput_tpot_ms);
  c.slo_e2e_ns = slo_ns("goodput e2e_ms", s.goodput_e2e_ms);
  c.record_requests = s.record_requests;
  if (!c.enabled && (c.slo_ttft_ns || c.slo_tpot_ns || c.slo_e2e_ns || c.record_requests)) {
    throw InvalidArgument(
        "goodput SLOs and record_requests measure streamed responses: they need streaming");
  }
  return c;
}

void TokenStats::merge(const TokenStats& other) {
  ttft.merge(other.ttft);
  itl.merge(other.itl);
  tpot.merge(other.tpot);
  input_tokens.merge(other.input_tokens);
  output_tokens.merge(other.output_tokens);
  requests += other.requests;
  empty_requests += other.empty_requests;
  good_requests += other.good_requests;
  input_tokens_total += other.input_tokens_total;
  output_tokens_total += other.output_tokens_total;
  user_rate_sum += other.user_rate_sum;
  user_rate_count += other.user_rate_count;
}

RequestTokens record_request(const StreamConfig& config, const StreamSink& sink,
                             int64_t scheduled_ns, int64_t e2e_ns, TokenStats& stats,
                             Histogram* window) noexcept {
  RequestTokens r;
  for (const int64_t gap : sink.gaps_ns()) stats.itl.record(gap);
  if (window) {
    Histogram& window_itl = window[static_cast<size_t>(TokenMetric::kItl)];
    for (const int64_t gap : sink.gaps_ns()) window_itl.record(gap);
  }
  const int64_t tokens = sink.tokens();
  ++stats.requests;
  stats.output_tokens.record(tokens);
  stats.output_tokens_total += tokens;
  if (sink.input_tokens() >= 0) {
    stats.input_tokens.record(sink.input_tokens());
    stats.input_tokens_total += sink.input_tokens();
  }
  if (sink.items() == 0) {
    ++stats.empty_requests;
  } else {
    r.has_first = true;
    r.ttft_ns = sink.first_ns() - scheduled_ns;
    stats.ttft.record(r.ttft_ns);
    if (window) window[static_cast<size_t>(TokenMetric::kTtft)].record(r.ttft_ns);
    if (tokens > 1) {
      const int64_t span_ns = sink.last_ns() - sink.first_ns();
      r.has_tpot = true;
      r.tpot_ns = span_ns / (tokens - 1);
      stats.tpot.record(r.tpot_ns);
      if (window) window[static_cast<size_t>(TokenMetric::kTpot)].record(r.tpot_ns);
      if (span_ns > 0) {
        stats.user_rate_sum += static_cast<double>(tokens - 1) * 1e9 / static_cast<double>(span_ns);
        ++stats.user_rate_count;
      }
    }
  }
  // A request without a token misses any token SLO; one token has no TPOT to miss.
  r.good =
      (!config.slo_ttft_ns || (r.has_first && r.ttft_ns <= config.slo_ttft_ns)) &&
      (!config.slo_tpot_ns || (r.has_first && (!r.has_tpot || r.tpot_ns <= config.slo_tpot_ns))) &&
      (!config.slo_e2e_ns || e2e_ns <= config.slo_e2e_ns);
  if (r.good) ++stats.good_requests;
  return r;
}

}  // namespace npn
