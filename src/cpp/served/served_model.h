// A served endpoint as a native model: each worker sends prepared requests over its own
// keep-alive connection, with no Python per request, and stamps streamed answers natively.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/stream.h"
#include "models/native_models.h"
#include "served/http_client.h"
#include "served/served_answer.h"

namespace npn {

// One prepared request and, for a prompt, its length in tokens (-1: unknown).
struct ServedRequest {
  HttpRequest http;
  int64_t input_tokens = -1;
};

// One item of a streamed answer: its tokens and when the chunk that completed it arrived.
struct StreamItem {
  int64_t at_ns;
  int64_t tokens;
};

// Reads a streamed answer's events once its body is in (the framing is left to a
// well-kept library outside the engine: the bindings hand it to sseclient-py). Called by
// any worker thread, several at once.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Appends the answer's items, each stamped with the arrival of the chunk that
  // completed its event; throws RequestFailed when the stream is malformed or failed.
  virtual void decode(const HttpResponse& response, std::vector<StreamItem>& items) = 0;
};

struct ServedSettings {
  HttpOptions options;
  std::vector<ServedRequest> requests;  // served round-robin, each worker from its own start
  AnswerKind answer = AnswerKind::kStatus;
  std::shared_ptr<StreamDecoder> decoder;  // streamed answers (null: none are streamed)
};

// A model served over HTTP. A failed exchange, a status other than 200 or a malformed
// answer throws RequestFailed (the runner counts it, untimed). Thread-safe: each worker
// instantiates its own connection; the requests are shared read-only.
class ServedModel final : public NativeModel {
 public:
  explicit ServedModel(ServedSettings settings);  // throws InvalidArgument without requests
  std::string describe() const override;
  std::unique_ptr<NativeInstance> instantiate(int worker_index) const override;

 private:
  ServedSettings settings_;
};

}  // namespace npn
