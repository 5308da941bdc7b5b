#include "served/served_model.h"

#include <utility>

#include "common/errors.h"
#include "engine/pipeline.h"

namespace npn {
namespace {

// One worker's connection and its place in the requests. Used by that worker only.
class ServedInstance final : public NativeInstance {
 public:
  ServedInstance(const ServedSettings& settings, int worker_index)
      : settings_(settings),
        connection_(settings.options),
        next_(static_cast<size_t>(worker_index) % settings.requests.size()) {}

  void infer() override {
    send(next_request(), false);
    check_answer(settings_.answer, response_);
  }

  void infer_stream(StreamSink& sink) override {
    if (!settings_.decoder) {
      NativeInstance::infer_stream(sink);
      return;
    }
    const ServedRequest& request = next_request();
    if (request.input_tokens >= 0) sink.set_input_tokens(request.input_tokens);
    send(request, true);
    if (response_.status != 200) throw RequestFailed(response_.failure());
    items_.clear();
    settings_.decoder->decode(response_, items_);
    for (const StreamItem& item : items_) sink.item_at(item.tokens, item.at_ns);
  }

 private:
  const ServedRequest& next_request() {
    const ServedRequest& request = settings_.requests[next_];
    if (++next_ == settings_.requests.size()) next_ = 0;
    return request;
  }

  void send(const ServedRequest& request, bool stamp) {
    try {
      connection_.perform(request.http, response_, stamp);
    } catch (const HttpError& error) {
      throw RequestFailed(error.what());
    }
  }

  const ServedSettings& settings_;
  HttpConnection connection_;
  HttpResponse response_;
  std::vector<StreamItem> items_;
  size_t next_;
};

}  // namespace

ServedModel::ServedModel(ServedSettings settings) : settings_(std::move(settings)) {
  if (settings_.requests.empty()) throw InvalidArgument("a served model needs requests to send");
}

std::string ServedModel::describe() const {
  return "served(" + settings_.requests.front().http.url() + ", " +
         std::to_string(settings_.requests.size()) + " requests)";
}

std::unique_ptr<NativeInstance> ServedModel::instantiate(int worker_index) const {
  return std::make_unique<ServedInstance>(settings_, worker_index);
}

}  // namespace npn
