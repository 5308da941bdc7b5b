// Served endpoints: libcurl's reasons kept stable, quoted body text, header lookup, the
// answer checks, and real exchanges with a loopback server of canned answers (keep-alive
// requests, chunk stamps, failed requests counted by the runner).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/errors.h"
#include "engine/pipeline.h"
#include "engine/runner.h"
#include "models/native_models.h"
#include "served/served_answer.h"
#include "served/served_model.h"

using namespace npn;

namespace {

HttpResponse answer(long status, std::string body, std::string headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string failure_of(AnswerKind kind, const HttpResponse& response) {
  try {
    check_answer(kind, response);
  } catch (const RequestFailed& e) {
    return e.what();
  }
  return "";
}

// A loopback server that answers each request read on its connections with the next of
// `answers` (raw HTTP, written in the given parts with a pause between them), then
// closes. `sent_ns[k]` is when the last part of answer k was written.
class CannedServer {
 public:
  explicit CannedServer(std::vector<std::vector<std::string>> answers, int64_t pause_ns = 0)
      : answers_(std::move(answers)), pause_ns_(pause_ns), sent_ns(answers_.size(), 0) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    REQUIRE(listen(listener_, 8) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  std::string url(const std::string& path = "/x") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return served_.load(); }

 private:
  void serve() {
    while (served_.load() < static_cast<int>(answers_.size())) {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      std::string pending;
      while (served_.load() < static_cast<int>(answers_.size()) && read_request(fd, pending)) {
        const int k = served_.load();
        for (size_t part = 0; part < answers_[k].size(); ++part) {
          if (part > 0) sleep_until_ns(now_ns() + pause_ns_);
          if (part + 1 == answers_[k].size()) sent_ns[k] = now_ns();
          const std::string& text = answers_[k][part];
          CHECK(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        }
        served_.fetch_add(1);
      }
      close(fd);
    }
  }

  // Reads one request (headers, then Content-Length bytes of body); false at the end.
  static bool read_request(int fd, std::string& pending) {
    char buffer[4096];
    for (;;) {
      const size_t head_end = pending.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t body = 0;
        const size_t at = pending.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) body = std::stoul(pending.substr(at + 16));
        if (pending.size() >= head_end + 4 + body) {
          pending.erase(0, head_end + 4 + body);
          return true;
        }
      }
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return false;
      pending.append(buffer, static_cast<size_t>(n));
    }
  }

  std::vector<std::vector<std::string>> answers_;
  int64_t pause_ns_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> served_{0};
  std::thread thread_;

 public:
  std::vector<int64_t> sent_ns;
};

std::string ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("libcurl's figures that vary from try to try leave the reason") {
  CHECK(stable_reason("Failed to connect to 127.0.0.1 port 9 after 3 ms: Couldn't connect") ==
        "Failed to connect to 127.0.0.1 port 9: Couldn't connect");
  CHECK(stable_reason("Operation timed out after 5001 milliseconds with 0 bytes received") ==
        "Operation timed out");
  CHECK(stable_reason("transfer closed with 3 out of 100 bytes received") == "transfer closed");
  CHECK(stable_reason("Recv failure: Connection reset by peer") ==
        "Recv failure: Connection reset by peer");
}

TEST_CASE("quoted body text is valid UTF-8, cut to its bytes, without surrounding space") {
  CHECK(printable_text("  {\"error\": \"x\"}\n", 160) == "{\"error\": \"x\"}");
  CHECK(printable_text("caf\xC3\xA9", 4) == "caf\xEF\xBF\xBD");  // the cut splits the \xC3\xA9
  CHECK(printable_text("caf\xC3\xA9", 5) == "caf\xC3\xA9");
  CHECK(printable_text("a\xFF"
                       "b\xED\xA0\x80",
                       16) ==
        "a\xEF\xBF\xBD"
        "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate is no character
  CHECK(answer(503, " busy ").failure() == "HTTP 503: busy");
  CHECK(answer(404, "").failure() == "HTTP 404");
}

TEST_CASE("a header's value: the last of that name, in any case") {
  const HttpResponse r =
      answer(200, "", "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a:  2 \r\nX-AB: 3\r\n\r\n");
  CHECK(r.header("X-A") == "2");
  CHECK(r.header("x-ab") == "3");
  CHECK_FALSE(r.header("X").has_value());
}

TEST_CASE("a v2 answer is a JSON object whose outputs, if any, is a list") {
  const std::string head = R"({"model_name":"m","outputs":[{"name":"y","shape":[1]}]})";
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, head)).empty());
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, R"({"model_name":"m"})")).empty());
  const std::string binary = head + std::string("\x00\x01\x02\x03", 4);
  const std::string length = "Inference-Header-Content-Length: " + std::to_string(head.size());
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, binary, length + "\r\n")).empty());
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, binary)) == "malformed response: not JSON");
  CHECK(failure_of(AnswerKind::kKServeV2,
                   answer(200, head, "Inference-Header-Content-Length: 999")) ==
        "malformed response: a bad Inference-Header-Content-Length");
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, "{not json")) ==
        "malformed response: not JSON");
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, R"({"outputs":{}})")) ==
        "malformed response: not a v2 infer response");
  CHECK(failure_of(AnswerKind::kKServeV2, answer(200, "[1,2]")) ==
        "malformed response: not a v2 infer response");
  CHECK(failure_of(AnswerKind::kKServeV2, answer(500, R"({"error":"boom"})")) ==
        R"(HTTP 500: {"error":"boom"})");
}

TEST_CASE("an OpenAI answer is a JSON object with a non-empty list of choices") {
  CHECK(failure_of(AnswerKind::kOpenAI, answer(200, R"({"choices":[{"text":"a"}]})")).empty());
  CHECK(failure_of(AnswerKind::kOpenAI, answer(200, R"({"choices":[1]})")).empty());
  CHECK(failure_of(AnswerKind::kOpenAI, answer(200, R"({"usage":{"choices":[1]},"choices":[]})")) ==
        "malformed response: no choices");
  CHECK(failure_of(AnswerKind::kOpenAI, answer(200, R"({"choices":{"a":[1]}})")) ==
        "malformed response: no choices");
  CHECK(failure_of(AnswerKind::kStatus, answer(200, "anything")).empty());
  CHECK(failure_of(AnswerKind::kStatus, answer(204, "")) == "HTTP 204");
  CHECK_THROWS_AS(parse_answer_kind("grpc"), InvalidArgument);
}

TEST_CASE("a server that is not there: libcurl's reason, without the figures that vary") {
  HttpOptions options;
  options.connect_timeout_ms = 2000;
  HttpConnection connection(options);
  HttpResponse response;
  const HttpRequest request(options, "http://127.0.0.1:1/x", std::nullopt);
  try {
    connection.perform(request, response);
    FAIL("a closed port answered");
  } catch (const HttpError& e) {
    const std::string what = e.what();
    CHECK(what.rfind("Failed to connect to 127.0.0.1 port 1", 0) == 0);
    CHECK(what.find(" ms") == std::string::npos);
  }
  connection.close();
  CHECK_THROWS_AS(connection.perform(request, response), HttpError);
}

TEST_CASE("keep-alive exchanges, and each piece of a streamed body stamped on arrival") {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: events\r\n\r\n5\r\nhello\r\n";
  CannedServer server({{ok("{}")}, {stream, "6\r\n world\r\n0\r\n\r\n"}}, 20'000'000);
  HttpOptions options;
  options.headers = {"X-Client: npn"};
  HttpConnection connection(options);
  HttpResponse response;
  connection.perform(HttpRequest(options, server.url(), std::string("{\"a\":1}"), {}), response);
  CHECK(response.status == 200);
  CHECK(response.body == "{}");
  CHECK(response.chunks.empty());  // not stamped unless asked
  connection.perform(HttpRequest(options, server.url(), std::nullopt), response, true);
  CHECK(server.requests() == 2);
  CHECK(response.body == "hello world");
  CHECK(response.header("x-kind") == "events");
  REQUIRE(response.chunks.size() >= 2);
  CHECK(response.chunks.back().end == response.body.size());
  CHECK(response.chunks.back().at_ns >= server.sent_ns[1]);  // never before it was sent
  for (size_t i = 1; i < response.chunks.size(); ++i) {
    CHECK(response.chunks[i].end > response.chunks[i - 1].end);
    CHECK(response.chunks[i].at_ns >= response.chunks[i - 1].at_ns);
  }
}

TEST_CASE("the served model: answers that fail count under their reasons, the rest are timed") {
  const std::string error = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
  std::vector<std::vector<std::string>> answers;
  for (int k = 0; k < 9; ++k) {
    answers.push_back({k % 3 == 2 ? error : k % 3 == 1 ? ok("[]") : ok(R"({"outputs":[]})")});
  }
  CannedServer server(answers);
  ServedSettings s;
  for (const char* body : {"a", "b"}) {
    s.requests.push_back(
        ServedRequest{HttpRequest(s.options, server.url(), std::string(body)), -1});
  }
  s.answer = AnswerKind::kKServeV2;
  RunSettings run;
  run.workers = 1;
  run.warmup = 0;
  run.max_iterations = 9;
  Runner runner(std::make_shared<NativePipeline>(std::make_shared<ServedModel>(std::move(s))), run);
  const RunResult result = runner.run();
  CHECK(result.status == RunStatus::kFinished);
  CHECK(result.requests_failed == 6);
  CHECK(result.failure_reasons.at("HTTP 503: busy") == 3);
  CHECK(result.failure_reasons.at("malformed response: not a v2 infer response") == 3);
  CHECK(result.stages[static_cast<size_t>(Stage::kE2E)].count() == 3);
  CHECK_THROWS_AS(ServedModel(ServedSettings{}), InvalidArgument);
}
