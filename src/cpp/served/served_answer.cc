#include "served/served_answer.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/errors.h"
#include "engine/pipeline.h"
#include "json/json_reader.h"

namespace npn {
namespace {

// A document in memory, handed to the JSON reader in one piece.
class MemorySource final : public JsonByteSource {
 public:
  explicit MemorySource(std::string_view text) : text_(text) {}
  size_t read(char* out, size_t capacity) override {
    const size_t n = std::min(capacity, text_.size());
    std::memcpy(out, text_.data(), n);
    text_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view text_;
};

// Whether a document is an object, and the shape of one of its members' value.
class MemberShape final : public JsonHandler {
 public:
  explicit MemberShape(std::string_view member) : member_(member) {}

  bool object = false;   // the document is an object
  bool present = false;  // with the member
  bool list = false;     // whose value is a list
  size_t items = 0;      // of this many items

  void null_value() override { value(); }
  void bool_value(bool) override { value(); }
  void int_value(int64_t) override { value(); }
  void double_value(double) override { value(); }
  void big_int_value(std::string_view) override { value(); }
  void huge_float_value(std::string_view) override { value(); }
  void string_value(std::string&&) override { value(); }
  void bytes_value(std::string&&) override { value(); }
  void int_array(std::vector<int64_t>&& values) override { typed(values.size()); }
  void float_array(std::vector<double>&& values) override { typed(values.size()); }
  void float32_array(std::vector<float>&& values) override { typed(values.size()); }
  void begin_array() override {
    const bool member = at_member();
    value();
    if (member) {
      list = true;
      counting_ = true;
    }
    ++depth_;
  }
  void end_array() override {
    --depth_;
    if (depth_ == 1) counting_ = false;
  }
  void begin_object() override {
    if (depth_ == 0) object = true;
    value();
    ++depth_;
  }
  void key(std::string&& name) override {
    if (depth_ == 1) in_member_ = name == member_;
  }
  void end_object() override { --depth_; }

 private:
  bool at_member() const { return depth_ == 1 && in_member_; }

  // A value begins at the current depth.
  void value() {
    if (at_member()) {
      present = true;
      in_member_ = false;
    } else if (depth_ == 2 && counting_) {
      ++items;
    }
  }

  void typed(size_t count) {
    if (at_member()) {
      list = true;
      items = count;
    }
    value();
  }

  std::string_view member_;
  int depth_ = 0;
  bool in_member_ = false;
  bool counting_ = false;
};

// The shape of `member` in the JSON document `text`; RequestFailed when it is not JSON.
MemberShape shape_of(std::string_view text, std::string_view member) {
  MemberShape shape(member);
  MemorySource source(text);
  JsonParseOptions options;
  options.chunk_bytes = std::max<size_t>(text.size(), 64);
  try {
    parse_json(source, shape, options);
  } catch (const JsonError&) {
    throw RequestFailed("malformed response: not JSON");
  }
  return shape;
}

// The JSON head of a v2 answer: all of it, or the bytes before its binary tensors.
std::string_view kserve_head(const HttpResponse& response) {
  const std::optional<std::string_view> length = response.header("Inference-Header-Content-Length");
  if (!length) return response.body;
  size_t n = 0;
  for (const char c : *length) {
    if (c < '0' || c > '9' || n > response.body.size()) {
      throw RequestFailed("malformed response: a bad Inference-Header-Content-Length");
    }
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  if (length->empty() || n > response.body.size()) {
    throw RequestFailed("malformed response: a bad Inference-Header-Content-Length");
  }
  return std::string_view(response.body).substr(0, n);
}

}  // namespace

AnswerKind parse_answer_kind(std::string_view name) {
  if (name == "status") return AnswerKind::kStatus;
  if (name == "kserve") return AnswerKind::kKServeV2;
  if (name == "openai") return AnswerKind::kOpenAI;
  throw InvalidArgument("answer must be one of status, kserve, openai; got '" + std::string(name) +
                        "'");
}

void check_answer(AnswerKind kind, const HttpResponse& response) {
  if (response.status != 200) throw RequestFailed(response.failure());
  switch (kind) {
    case AnswerKind::kStatus:
      return;
    case AnswerKind::kKServeV2: {
      const MemberShape shape = shape_of(kserve_head(response), "outputs");
      if (!shape.object || (shape.present && !shape.list)) {
        throw RequestFailed("malformed response: not a v2 infer response");
      }
      return;
    }
    case AnswerKind::kOpenAI: {
      const MemberShape shape = shape_of(response.body, "choices");
      if (!shape.object || !shape.list || shape.items == 0) {
        throw RequestFailed("malformed response: no choices");
      }
      return;
    }
  }
}

}  // namespace npn
