import sys

import torch

import neuronperf_native as npf


def main(duration: float) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    batch_sizes = [1, 2, 4]
    inputs = [torch.randn(b, 64) for b in batch_sizes]  # one example input per batch size

    # Trace every batch size (torch_neuronx / torch_neuron when installed, else
    # TorchScript) into models/ and write the model index.
    index = npf.torch.compile(model, inputs, batch_sizes=batch_sizes, model_name="mlp")

    # One model copy with 1 and 2 worker threads: 3 batch sizes x 2 = 6 configurations.
    # The default n_models=[1, MAX] would double that on a CPU with more than one core.
    reports = npf.torch.benchmark(
        index, inputs, duration=duration, n_models=1, workers_per_model=[1, 2]
    )
    npf.print_reports(reports)


# Model copies start in fresh interpreters, which import this file: guard the entry point.
if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)  # seconds per configuration
