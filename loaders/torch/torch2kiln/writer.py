"""Every file the exporter writes: the model directory (graph.json + weights/<name>.npy,
format "kiln" v1, docs/FORMAT.md) and the CLI's reference input.npy / output.npy."""

import json
import os

import numpy as np

FORMAT_VERSION = 1


def model_graph(inputs, outputs, params, nodes):
    """graph.json as a dict; `params` maps each parameter name to its tensor, in the
    order they are listed, and each is stored at weights/<name>.npy."""
    param_entries = []
    for name, t in params.items():
        param_entries.append({"name": name, "dtype": "float32", "shape": list(t.shape),
                              "file": f"weights/{name}.npy"})
    return {"format": "kiln", "version": FORMAT_VERSION, "inputs": inputs,
            "outputs": outputs, "params": param_entries, "nodes": nodes}


def write_model(out_dir, graph, params):
    """Writes out_dir/weights/*.npy (the tensors of `params`, by name) and then
    out_dir/graph.json; creates out_dir if missing."""
    os.makedirs(os.path.join(out_dir, "weights"), exist_ok=True)
    for p in graph["params"]:
        data = params[p["name"]].detach().cpu().contiguous().numpy()
        np.save(os.path.join(out_dir, p["file"]), data)
    write_graph_json(os.path.join(out_dir, "graph.json"), graph)


def write_graph_json(path, graph):
    """graph.json with one line per input, output, param and node: readable and diffable."""
    lines = ["{", f'"format": "kiln", "version": {FORMAT_VERSION},']
    keys = ["inputs", "outputs", "params", "nodes"]
    for i, key in enumerate(keys):
        items = [json.dumps(item) for item in graph[key]]
        body = ",\n  ".join(items)
        end = "," if i + 1 < len(keys) else ""
        lines.append(f'"{key}": [\n  {body}\n]{end}' if items else f'"{key}": []{end}')
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_reference(out_dir, x, y):
    """out_dir/input.npy and out_dir/output.npy: an input and PyTorch's output for it."""
    np.save(os.path.join(out_dir, "input.npy"), x.numpy())
    np.save(os.path.join(out_dir, "output.npy"), y.numpy())
