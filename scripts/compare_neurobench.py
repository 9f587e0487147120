"""Compare snnviz.core.metrics with the ``neurobench`` package on tiny snntorch models.

neurobench needs torch and snntorch, which are not project dependencies, so this script runs in
two interpreters:

1. ``python scripts/compare_neurobench.py`` (the project's ``.venv``) creates a throwaway venv
   outside the repository (default ``/tmp/nbvenv``) with ``pip install neurobench`` if it does
   not exist yet, then runs this same file there with ``--neurobench-side OUT.json``;
2. that side builds three tiny snntorch networks (spiking input, analog input, recurrent),
   runs ``neurobench.benchmarks.Benchmark`` on them, records every connection layer's inputs and
   every neuron layer's spikes with torch hooks, and writes it all to JSON;
3. back in the project venv, :func:`snnviz.core.metrics.neurobench_metrics` recomputes the
   metrics from those recordings and a side-by-side table is printed. Exit code 1 on mismatch.

Nothing here is imported by the package or the tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

METRICS = [
    ("Footprint", "footprint"),
    ("ParameterCount", "parameter_count"),
    ("ConnectionSparsity", "connection_sparsity"),
    ("ActivationSparsity", "activation_sparsity"),
    ("Dense", "Dense"),
    ("Effective_MACs", "Effective_MACs"),
    ("Effective_ACs", "Effective_ACs"),
    ("ClassificationAccuracy", "classification_accuracy"),
]


# --- side 1: inside the neurobench venv (torch, snntorch, neurobench; no snnviz) ------------


def _neurobench_side(out_path: str) -> None:
    import snntorch as snn
    import torch
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ClassificationAccuracy,
        SynapticOperations,
    )
    from neurobench.models import SNNTorchModel
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    class Net(nn.Module):
        def __init__(self, recurrent: bool) -> None:
            super().__init__()
            self.fc1 = nn.Linear(10, 8)
            if recurrent:
                self.lif1 = snn.RLeaky(beta=0.8, linear_features=8, init_hidden=True)
            else:
                self.lif1 = snn.Leaky(beta=0.8, init_hidden=True)
            self.fc2 = nn.Linear(8, 3)
            self.lif2 = snn.Leaky(beta=0.8, init_hidden=True, output=True)

        def forward(self, x):
            return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    def array(t) -> dict:
        t = t.detach().cpu()
        return {"dtype": str(t.numpy().dtype), "data": t.numpy().tolist()}

    def run_case(name: str, recurrent: bool, analog: bool) -> dict:
        torch.manual_seed(0)
        net = Net(recurrent)
        with torch.no_grad():
            net.fc1.weight.mul_((torch.rand_like(net.fc1.weight) > 0.3).float() * 3.0)
            net.fc1.bias[:2] = 0.0
            net.fc2.weight.mul_((torch.rand_like(net.fc2.weight) > 0.2).float() * 2.0)
            if recurrent:
                net.lif1.recurrent.weight.mul_((torch.rand(8, 8) > 0.5).float())
        samples, steps = 12, 6
        if analog:
            x = torch.relu(torch.randn(samples, steps, 10))
        else:
            x = (torch.rand(samples, steps, 10) < 0.3).float()
        y = torch.randint(0, 3, (samples,))
        loader = DataLoader(TensorDataset(x, y), batch_size=5)  # batches 5, 5, 2
        model = SNNTorchModel(net)

        def postprocess(spikes):
            return spikes.sum(1).argmax(-1)

        static = [Footprint, ConnectionSparsity, ParameterCount]
        workload = [ActivationSparsity, SynapticOperations, ClassificationAccuracy]
        bench = Benchmark(model, loader, [], [postprocess], [static, workload])
        results = bench.run(quiet=True)
        # a second run measures the footprint again, now with snntorch's state buffers (mem,
        # spk) holding the last batch's state: neurobench then counts simulation state too
        results["FootprintSecondRun"] = bench.run(quiet=True)["Footprint"]

        # record what each layer saw, with our own hooks, by running the same batches again
        linear = {"fc1": net.fc1, "fc2": net.fc2}
        if recurrent:
            linear["recurrent"] = net.lif1.recurrent
        seen = {k: [] for k in linear}
        spikes = {"lif1": [], "lif2": []}
        handles = [
            mod.register_forward_pre_hook(lambda m, a, k=k: seen[k].append(a[0].detach()))
            for k, mod in linear.items()
        ]
        for k in spikes:
            handles.append(
                getattr(net, k).register_forward_hook(
                    lambda m, a, out, k=k: spikes[k].append(
                        (out[0] if isinstance(out, tuple) else out).detach()
                    )
                )
            )
        predictions = []
        with torch.no_grad():
            for xb, _ in loader:
                predictions.append(postprocess(model(xb)))
        for h in handles:
            h.remove()

        def raster(calls: list) -> torch.Tensor:  # per-call (batch, n) -> (samples, T, n)
            per_batch = [torch.stack(calls[i : i + steps], 1) for i in range(0, len(calls), steps)]
            return torch.cat(per_batch, 0)

        layers = [
            {
                "name": "fc1",
                "weight": array(net.fc1.weight.T),
                "inputs": array(raster(seen["fc1"])),
                "outputs": array(raster(spikes["lif1"])),
            },
        ]
        if recurrent:
            layers.append(
                {
                    "name": "recurrent",
                    "weight": array(net.lif1.recurrent.weight.T),
                    "inputs": array(raster(seen["recurrent"])),
                    "outputs": None,
                }
            )
        layers.append(
            {
                "name": "fc2",
                "weight": array(net.fc2.weight.T),
                "inputs": array(raster(seen["fc2"])),
                "outputs": array(raster(spikes["lif2"])),
            }
        )
        state = {"mem", "spk", "syn"}
        return {
            "name": name,
            "neurobench": {k: v for k, v in results.items()},
            "params": {k: array(p) for k, p in net.named_parameters()},
            "buffers": {
                k: array(b) for k, b in net.named_buffers() if k.split(".")[-1] not in state
            },
            "layers": layers,
            "predictions": array(torch.cat(predictions)),
            "labels": array(y),
        }

    cases = [
        run_case("spiking input, feed-forward", recurrent=False, analog=False),
        run_case("analog (ReLU) input, feed-forward", recurrent=False, analog=True),
        run_case("spiking input, RLeaky recurrent", recurrent=True, analog=False),
    ]
    Path(out_path).write_text(json.dumps(cases))


# --- side 2: the project venv -------------------------------------------------------------


def _ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "neurobench"], check=True)
    return python


def _ours(case: dict) -> dict:
    import numpy as np

    from snnviz.core.metrics import LayerActivity, neurobench_metrics

    def arr(d):
        return None if d is None else np.asarray(d["data"], dtype=d["dtype"])

    layers = [
        LayerActivity(arr(lay["weight"]), arr(lay["inputs"]), arr(lay["outputs"]), name=lay["name"])
        for lay in case["layers"]
    ]
    params = {k: arr(v) for k, v in case["params"].items()}
    buffers = {k: arr(v) for k, v in case["buffers"].items()}
    m = neurobench_metrics(
        params, layers, arr(case["predictions"]), arr(case["labels"]), buffers=buffers
    )
    return {**m, **m["synaptic_operations"]}


def _flat_neurobench(results: dict) -> dict:
    flat = {k: v for k, v in results.items() if not isinstance(v, dict)}
    flat.update(results.get("SynapticOperations", {}))
    return flat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default="/tmp/nbvenv", help="throwaway venv with neurobench")
    parser.add_argument("--neurobench-side", metavar="OUT_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.neurobench_side:
        _neurobench_side(args.neurobench_side)
        return 0

    python = _ensure_venv(Path(args.venv))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "neurobench.json"
        subprocess.run([str(python), __file__, "--neurobench-side", str(out)], check=True)
        cases = json.loads(out.read_text())

    ok = True
    for case in cases:
        theirs = _flat_neurobench(case["neurobench"])
        ours = _ours(case)
        print(f"\n{case['name']}")
        print(f"  {'metric':<24}{'neurobench':>14}{'snnviz':>14}")
        for nb_key, our_key in METRICS:
            a, b = theirs[nb_key], ours[our_key]
            # neurobench rounds connection sparsity to 4 decimals and averages float32 batch
            # accuracies; the counts must agree exactly
            tol = {"ConnectionSparsity": 5e-5, "ClassificationAccuracy": 1e-6}.get(nb_key, 1e-12)
            same = abs(a - b) <= tol * max(1.0, abs(a))
            ok &= same
            print(f"  {nb_key:<24}{a:>14.6g}{b:>14.6g}{'' if same else '   MISMATCH'}")
        again = case["neurobench"]["FootprintSecondRun"]
        print(f"  (neurobench Footprint on a second run, snntorch state buffers filled: {again} B)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
