// The model interface the runner drives: input -> preprocess -> infer -> postprocess.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "engine/stage.h"
#include "engine/stream.h"

namespace npn {

// What went wrong in a stage, kept as data in the run's result.
struct ErrorInfo {
  std::string type;  // e.g. "ZeroDivisionError", "std::runtime_error", "Timeout"
  std::string message;
  std::string traceback;  // formatted traceback text when the stage was Python code
  std::string stage;      // stage name, or "warmup"
  int worker = -1;
};

// Thrown by a stage implementation to report its own failure with details.
class StageError : public std::exception {
 public:
  StageError(std::string type, std::string message, std::string traceback = {})
      : type_(std::move(type)), message_(std::move(message)), traceback_(std::move(traceback)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& type() const noexcept { return type_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& traceback() const noexcept { return traceback_; }

 private:
  std::string type_;
  std::string message_;
  std::string traceback_;
};

// Thrown by a stage when one request failed but the run goes on (a served endpoint
// answered an error, reset the connection, sent a malformed event): the runner counts
// the request as failed under `reason`, records no latency for it, and continues.
class RequestFailed : public std::exception {
 public:
  explicit RequestFailed(std::string reason) : reason_(std::move(reason)) {}
  const char* what() const noexcept override { return reason_.c_str(); }

 private:
  std::string reason_;
};

// Thrown by a stage that can no longer run at all (the Python interpreter is exiting):
// the worker ends at once and quietly, without calling the pipeline again.
class WorkerExit : public std::exception {
 public:
  const char* what() const noexcept override { return "the worker must exit"; }
};

// Fixed properties of a pipeline that shape the loop (which stages exist and are timed).
struct PipelineTraits {
  bool has_preprocess = false;
  bool has_postprocess = false;
  bool timed_input = false;   // fetching an input does real work (iterator, dataset)
  bool finite_input = false;  // inputs can run out, which ends the run
  bool shared_lock = false;   // enter() may wait for a lock such as the GIL
};

// One worker's view of the pipeline. Created, used and destroyed on that worker's
// thread; never shared.
class WorkerPipeline {
 public:
  virtual ~WorkerPipeline() = default;
  // Makes the stages callable (e.g. takes the GIL). Returns true if it had to
  // acquire something, so the runner times the wait.
  virtual bool enter() = 0;
  // Called after an iteration ended at now_ns: may give up what enter() took
  // when others wait for it or it was held for a whole time slice.
  virtual void between_iterations(int64_t now_ns) = 0;
  // Gives up what enter() took, before the worker blocks or exits.
  virtual void leave() = 0;
  // Selects the next input; false when the inputs are exhausted.
  virtual bool next_input() = 0;
  virtual void preprocess() = 0;
  virtual void infer() = 0;
  // In place of infer() when the run streams: runs the model and hands each item of its
  // response to `sink` as it arrives (and the prompt's length when known). A pipeline
  // without streams answers with one item when its call returns.
  virtual void infer_stream(StreamSink& sink) {
    infer();
    sink.item(1);
  }
  virtual void postprocess() = 0;
};

// A model with its inputs and optional pre/post-processing. Shared by all workers;
// make_worker() is called once on each worker thread.
class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual PipelineTraits traits() const = 0;
  virtual std::unique_ptr<WorkerPipeline> make_worker(int worker_index) = 0;
};

}  // namespace npn
