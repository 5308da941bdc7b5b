#include "engine/result.h"

#include <numeric>

namespace npn {

std::string_view status_name(RunStatus status) {
  switch (status) {
    case RunStatus::kFinished:
      return "finished";
    case RunStatus::kError:
      return "error";
    case RunStatus::kTimeout:
      return "timeout";
    case RunStatus::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "none";
    case StopReason::kDuration:
      return "duration";
    case StopReason::kMaxIterations:
      return "max_iterations";
    case StopReason::kInputsExhausted:
      return "inputs_exhausted";
    case StopReason::kError:
      return "error";
    case StopReason::kTimeout:
      return "timeout";
    case StopReason::kStopRequested:
      return "stop_requested";
  }
  return "unknown";
}

RunStatus status_for(StopReason reason) {
  switch (reason) {
    case StopReason::kError:
      return RunStatus::kError;
    case StopReason::kTimeout:
      return RunStatus::kTimeout;
    case StopReason::kStopRequested:
      return RunStatus::kStopped;
    default:
      return RunStatus::kFinished;
  }
}

std::string_view arrival_name(Arrival arrival) {
  switch (arrival) {
    case Arrival::kConstant:
      return "constant";
    case Arrival::kPoisson:
      return "poisson";
    case Arrival::kGamma:
      return "gamma";
    case Arrival::kIntervals:
      return "intervals";
  }
  return "unknown";
}

int64_t RunResult::iterations() const noexcept {
  return std::accumulate(worker_iterations.begin(), worker_iterations.end(), int64_t{0});
}

}  // namespace npn
