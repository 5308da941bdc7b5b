// What a served model's whole answer must hold to count as a completed request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "served/http_client.h"

namespace npn {

// The protocols whose answers are checked. kStatus: a 200 status is enough.
enum class AnswerKind : int8_t { kStatus, kKServeV2, kOpenAI };

// "status", "kserve" or "openai"; throws InvalidArgument naming the choices otherwise.
AnswerKind parse_answer_kind(std::string_view name);

// Throws RequestFailed with the reason when `response` is not a completed answer of
// `kind`: a status other than 200 ("HTTP 503: <start of the body>"), or a body that is
// not what the protocol promises: KServe v2, a JSON object (the JSON head before
// Inference-Header-Content-Length bytes of binary tensors) whose "outputs", if any, is
// a list; OpenAI, a JSON object with a non-empty "choices" list. Reentrant.
void check_answer(AnswerKind kind, const HttpResponse& response);

}  // namespace npn
