// A pipeline whose stages are Python callables: the trampoline that takes the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/pipeline.h"
#include "models/native_models.h"

namespace npn::bindings {

// What the Python layer hands over; every object is owned (a strong reference).
struct PythonStages {
  pybind11::object model;                     // a callable, or None when `native` is set
  std::shared_ptr<const NativeModel> native;  // a native model called without the GIL
  pybind11::object preprocess;                // None or a callable
  pybind11::object postprocess;               // None or a callable
  std::vector<pybind11::tuple> inputs;        // argument tuples served round-robin, or
  pybind11::object iterator;                  // an iterator of argument tuples (None if unused)
  pybind11::object thread_context;            // None, or a callable returning a context manager
                                              // that each worker thread enters once
  int64_t gil_slice_ns = 200'000;             // longest a worker keeps the GIL between
                                              // calls while another worker waits for it
  pybind11::object token_count_fn;            // None, or item -> tokens (streamed runs)
  std::vector<int64_t> input_tokens;          // each input's prompt length (empty: unknown)
};

// Constructed with the GIL held. Workers hold the GIL only while Python code runs
// and across consecutive calls, handing it on as gil_arbiter.h says: to a waiting
// worker after one time slice, to a harness thread at the next iteration boundary;
// the destructor takes the GIL to release the Python objects.
class PythonPipeline final : public Pipeline {
 public:
  explicit PythonPipeline(PythonStages stages);
  ~PythonPipeline() override;
  PipelineTraits traits() const override;
  std::unique_ptr<WorkerPipeline> make_worker(int worker_index) override;

 private:
  friend class PythonWorker;
  std::unique_ptr<PythonStages> stages_;
  PyInterpreterState* interpreter_;
  int64_t courtesy_ns_;        // the longest a worker keeps the GIL while nobody it knows of waits
  std::mutex iterator_mutex_;  // serializes next() on the iterator (it may drop the GIL)
};

}  // namespace npn::bindings
