// Bindings for served endpoints: how to reach a server (HttpOptions), the connection that
// Python uses around a run (model metadata, output checks), and the served model the
// engine runs with no Python per request. Streamed answers are read by a Python callable
// (sseclient-py) once their body is in; only that trampoline takes the GIL.
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "interpreter_exit.h"
#include "python_errors.h"
#include "served/http_client.h"
#include "served/served_model.h"

namespace py = pybind11;

namespace npn::bindings {
namespace {

// A connection for Python code, with the options its requests are prepared with. A
// request releases the GIL while it goes; one thread at a time may use it.
struct PyConnection {
  HttpOptions options;
  HttpConnection connection;
  std::mutex busy;  // a second thread at once is an error, not a data race

  explicit PyConnection(HttpOptions o) : options(std::move(o)), connection(options) {}
};

std::unique_lock<std::mutex> claim(PyConnection& c) {
  std::unique_lock<std::mutex> lock(c.busy, std::try_to_lock);
  if (!lock.owns_lock())
    throw std::logic_error("an HttpConnection is used by one thread at a time");
  return lock;
}

HttpResponse request(PyConnection& c, const std::string& url, const std::optional<py::bytes>& body,
                     const std::vector<std::string>& headers) {
  std::optional<std::string> payload;
  if (body) payload = std::string(*body);
  const HttpRequest prepared(c.options, url, std::move(payload), headers);
  HttpResponse response;
  const std::unique_lock<std::mutex> lock = claim(c);
  GilReleased nogil;
  c.connection.perform(prepared, response);
  return response;
}

// Reads streamed answers with a Python callable decode(body, chunks) -> [(at_ns, tokens)],
// where chunks are (end, at_ns) pairs; it raises RequestFailed for a malformed stream.
// Any worker thread may call it; each call takes the GIL.
class PythonStreamDecoder final : public StreamDecoder {
 public:
  explicit PythonStreamDecoder(py::object fn) : fn_(std::move(fn)) {}

  ~PythonStreamDecoder() override {
    PyGILState_STATE gil;
    if (!ensure_python(gil)) {
      fn_.release();  // too late to touch Python objects: leave it to the process exit
      return;
    }
    fn_ = py::object();
    release_python(gil);
  }

  void decode(const HttpResponse& response, std::vector<StreamItem>& items) override {
    PyGILState_STATE gil;
    if (!ensure_python(gil)) throw WorkerExit();
    try {
      call(response, items);
    } catch (...) {
      release_python(gil);
      throw;
    }
    release_python(gil);
  }

 private:
  // With the GIL held; every Python object made here is gone when it returns.
  void call(const HttpResponse& response, std::vector<StreamItem>& items) {
    const auto body = py::reinterpret_steal<py::object>(checked(PyBytes_FromStringAndSize(
        response.body.data(), static_cast<Py_ssize_t>(response.body.size()))));
    py::list chunks(response.chunks.size());
    for (size_t i = 0; i < response.chunks.size(); ++i) {
      chunks[i] = py::make_tuple(response.chunks[i].end, response.chunks[i].at_ns);
    }
    const auto result = py::reinterpret_steal<py::object>(
        checked_call(PyObject_CallFunctionObjArgs(fn_.ptr(), body.ptr(), chunks.ptr(), nullptr)));
    for (const py::handle item : result) {
      const auto pair = item.cast<std::pair<int64_t, int64_t>>();
      items.push_back(StreamItem{pair.first, pair.second});
    }
  }

  py::object fn_;
};

HttpOptions make_options(std::vector<std::string> headers, int64_t connect_timeout_ms,
                         int64_t request_timeout_ms, bool verify_peer, std::string ca_file,
                         std::string cert_file, std::string key_file) {
  HttpOptions o;
  o.headers = std::move(headers);
  o.connect_timeout_ms = connect_timeout_ms;
  o.request_timeout_ms = request_timeout_ms;
  o.verify_peer = verify_peer;
  o.ca_file = std::move(ca_file);
  o.cert_file = std::move(cert_file);
  o.key_file = std::move(key_file);
  return o;
}

using RequestTuple = std::tuple<py::bytes, std::vector<std::string>, int64_t>;

std::shared_ptr<NativeModel> served_model(const HttpOptions& options, const std::string& url,
                                          const std::vector<RequestTuple>& requests,
                                          const std::string& answer, const py::object& decoder) {
  ServedSettings s;
  s.options = options;
  s.answer = parse_answer_kind(answer);
  s.requests.reserve(requests.size());
  for (const auto& [body, headers, input_tokens] : requests) {
    s.requests.push_back(
        ServedRequest{HttpRequest(options, url, std::string(body), headers), input_tokens});
  }
  if (!decoder.is_none()) s.decoder = std::make_shared<PythonStreamDecoder>(decoder);
  return std::make_shared<ServedModel>(std::move(s));
}

}  // namespace

void bind_served(py::module_& m) {
  py::register_exception<HttpError>(m, "HttpError", PyExc_OSError);

  py::class_<HttpOptions>(m, "HttpOptions", "How to reach a server (targets.Endpoint's options).")
      .def(py::init(&make_options), py::kw_only(), py::arg("headers"),
           py::arg("connect_timeout_ms"), py::arg("request_timeout_ms"), py::arg("verify_peer"),
           py::arg("ca_file"), py::arg("cert_file"), py::arg("key_file"));

  py::class_<HttpResponse>(m, "HttpResponse", "The answer of one HTTP exchange.")
      .def_readonly("status", &HttpResponse::status)
      .def_property_readonly("headers", [](const HttpResponse& r) { return py::bytes(r.headers); })
      .def_property_readonly("body", [](const HttpResponse& r) { return py::bytes(r.body); })
      .def(
          "header",
          [](const HttpResponse& r, const std::string& name) -> std::optional<py::str> {
            const auto value = r.header(name);
            if (!value) return std::nullopt;
            return py::reinterpret_steal<py::str>(checked(PyUnicode_DecodeLatin1(
                value->data(), static_cast<Py_ssize_t>(value->size()), nullptr)));
          },
          py::arg("name"), "The value of the last header called name (any case), or None.")
      .def("failure", &HttpResponse::failure,
           "'HTTP 503: <the start of the body>': a reason for a failed request.");

  py::class_<PyConnection>(m, "HttpConnection",
                           "One keep-alive libcurl connection (one thread at a time).")
      .def(py::init<HttpOptions>(), py::arg("options"))
      .def("request", &request, py::arg("url"), py::arg("body"), py::arg("headers"),
           "GET (body None) or POST body, with the GIL released: its HttpResponse. Raises "
           "HttpError when the exchange did not complete.")
      .def(
          "close",
          [](PyConnection& c) {
            const std::unique_lock<std::mutex> lock = claim(c);
            c.connection.close();
          },
          "Closes the connection.");

  m.def("served_model", &served_model, py::kw_only(), py::arg("options"), py::arg("url"),
        py::arg("requests"), py::arg("answer"), py::arg("decoder"),
        "A NativeModel that POSTs requests, a list of (body, headers, input_tokens), to url "
        "round-robin; answer ('status', 'kserve', 'openai') says what completes a request, "
        "decoder(body, chunks) reads a streamed answer's items (None: not streamed).");
}

}  // namespace npn::bindings
