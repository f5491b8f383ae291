"""bench/zoo_bench.py's output: the markdown tables, zoo.json, the ratio chart, README.

A result row is {"model", "batches": {"1": {engine: cell}}} or {"model", "failed"}; a
cell holds median_ms, min_ms, rounds, runs, setup_ms, peak_rss_mb, rel_error, ok (a
Kiln cell also ort_ratios, its time over ONNX Runtime's in each round), or only "error"
when the engine did not run; Kiln's run of ONNX Runtime's own .onnx file
(kiln_onnx) also holds vs_ort, its error against ONNX Runtime's output.
"""

import json
import math
import os
import shutil
import statistics

from zoo_table import splice

BEGIN, END = "<!-- zoo-bench begin -->", "<!-- zoo-bench end -->"
KILN_COLUMNS = [("kiln_none", "Kiln none"), ("kiln_bn", "Kiln bn"), ("kiln_all", "Kiln all"),
                ("kiln_auto", "Kiln all + auto"), ("kiln_onnx", "Kiln on the .onnx, all + auto")]
LABELS = dict(KILN_COLUMNS, ort="ONNX Runtime", torch="PyTorch eager")
RATIOS = [("kiln_all", "all / ORT"), ("kiln_auto", "all + auto / ORT")]


def ratio(cells, key):
    """cells[key]'s time over ONNX Runtime's: the median of the rounds' own ratios (each
    round's two medians, measured minutes apart at most), else the ratio of the medians;
    None when either engine did not run."""
    a, b = cells.get(key, {}), cells.get("ort", {})
    if "median_ms" not in a or "median_ms" not in b:
        return None
    if a.get("ort_ratios"):
        return statistics.median(a["ort_ratios"])
    return a["median_ms"] / b["median_ms"]


def geomean(values):
    values = [v for v in values if v is not None]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def rows_of(results):
    """(model, batch, cells) for every model that ran, in order."""
    return [(r["model"], b, cells) for r in results if "batches" in r
            for b, cells in r["batches"].items()]


def time_cell(cell):
    if "median_ms" not in cell:
        return "failed"
    text = f"{cell['median_ms']:.2f}" if cell["median_ms"] < 1000 else f"{cell['median_ms']:.0f}"
    if cell.get("cold"):
        text += " (1 run)"
    if not cell["ok"]:
        text += " ✗"
    return text


def fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}x"


def time_table(results, batches):
    head = ["model", "batch", "ONNX Runtime ms", "PyTorch eager ms"]
    head += [f"{label} ms" for _, label in KILN_COLUMNS] + [label for _, label in RATIOS]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for model, batch, cells in rows_of(results):
        row = [model, batch, time_cell(cells["ort"]), time_cell(cells["torch"])]
        row += [time_cell(cells[key]) for key, _ in KILN_COLUMNS]
        row += [fmt_ratio(ratio(cells, key)) for key, _ in RATIOS]
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    for batch in batches:
        mine = [cells for _, b, cells in rows_of(results) if b == str(batch)]
        means = [geomean([ratio(cells, key) for cells in mine]) for key, _ in RATIOS]
        lines.append(f"| geometric mean | {batch} |" + " |" * (len(head) - 2 - len(RATIOS))
                     + "".join(f" {fmt_ratio(m)} |" for m in means))
    for r in results:
        if "failed" in r:
            lines.append(f"| {r['model']} | | failed: {r['failed']} |" + " |" * (len(head) - 3))
    return "\n".join(lines)


def setup_table(results, batches):
    """Set-up at the first batch; peak RSS per batch: Kiln (all + auto) / ORT / PyTorch."""
    first = str(batches[0])
    head = ["model", "Kiln set-up ms", "ONNX Runtime session ms", "Kiln / ORT"]
    head += [f"peak RSS MB, batch {b}: Kiln / ORT / PyTorch" for b in batches]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]

    def number(cell, field, digits=0):
        return f"{cell[field]:.{digits}f}" if cell.get(field) is not None else "failed"

    for r in results:
        if "batches" not in r:
            continue
        kiln, ort = r["batches"][first]["kiln_auto"], r["batches"][first]["ort"]
        setup_ratio = (kiln["setup_ms"] / ort["setup_ms"]
                       if kiln.get("setup_ms") and ort.get("setup_ms") else None)
        row = [r["model"], number(kiln, "setup_ms"), number(ort, "setup_ms"), fmt_ratio(setup_ratio)]
        for b in batches:
            cells = r["batches"][str(b)]
            row.append(" / ".join(number(cells[k], "peak_rss_mb") for k in ("kiln_auto", "ort", "torch")))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def problems(results, tolerance):
    """Lines naming each engine that failed and each output off by more than the tolerance."""
    lines = []
    for model, batch, cells in rows_of(results):
        for key, cell in cells.items():
            where = f"{model}, batch {batch}, {LABELS[key]}"
            if "error" in cell:
                lines.append(f"- {where}: {cell['error']}")
            if "ok" in cell and not cell["ok"]:
                err = cell["rel_error"]
                lines.append(f"- {where}: max |y - PyTorch| / max |PyTorch| = "
                             + ("unchecked (no PyTorch output)" if err is None else f"{err:.1e}")
                             + f", above {tolerance:g}")
            vs_ort = cell.get("vs_ort")
            if "vs_ort" in cell and (vs_ort is None or vs_ort > tolerance):
                lines.append(f"- {where}: against ONNX Runtime's output on the same file, "
                             + ("unchecked (no ONNX Runtime output)" if vs_ort is None
                                else f"{vs_ort:.1e}, above {tolerance:g}"))
    return lines


def worst_error(results):
    checked = [(cell["rel_error"], model, batch, key) for model, batch, cells in rows_of(results)
               for key, cell in cells.items() if key != "torch" and cell.get("ok")]
    return max(checked) if checked else None


def versions(results):
    found = {}
    for _, _, cells in rows_of(results):
        for key, name in (("ort", "onnxruntime-node"), ("torch", "torch")):
            if cells.get(key, {}).get("version"):
                found.setdefault(name, cells[key]["version"])
    try:
        import torchvision
        found["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    return found


def header(meta):
    v = meta["versions"]
    load = meta["load_average_before"]
    return (f"Kiln (engine-run), ONNX Runtime {v.get('onnxruntime-node', '?')} (onnxruntime-node) "
            f"and PyTorch {v.get('torch', '?')} eager on torchvision's models (random init, "
            f"randomised BatchNorms), {meta['size']}x{meta['size']}, {meta['threads']} threads, "
            f"on {meta['cpu']}, {meta['cpus']} CPUs, {meta['date']}. Each time is the median "
            f"of {meta['rounds']} rounds' medians of {meta['iters']} runs after {meta['warmup']} "
            f"warm-up, the engines alternating in fresh processes. 1-minute load average "
            f"{load:.2f} before the run, {meta['load_average_after']:.2f} after"
            + (" (a shared, busy machine: noisy; compare the ratios)." if load > 1 else ".")
            + f" The run took {meta['wall_s'] / 60:.0f} minutes.")


def markdown(results, meta, chart=None):
    batches = meta["batches"]
    parts = [header(meta), "",
             "Kiln none / bn / all: `--fuse=none|bn|all` with direct convolutions; Kiln all + "
             "auto: `--fuse=all --conv-algo auto`. Ratios: Kiln's time over ONNX Runtime's "
             "in the same round, the median over the rounds (below 1: Kiln is faster). ✗: output off PyTorch's by more than "
             f"{meta['tolerance']:g} x max |PyTorch|; (1 run): PyTorch over its time budget.",
             "", time_table(results, batches), ""]
    parts += [f"Set-up: Kiln's load + passes + compile (`--fuse=all --conv-algo auto`, batch "
              f"{batches[0]}) in a fresh process, against ONNX Runtime's session creation. Peak "
              "RSS of each engine's whole process (ONNX Runtime's includes node, PyTorch's "
              "Python and torch).", "", setup_table(results, batches), ""]
    trouble = problems(results, meta["tolerance"])
    worst = worst_error(results)
    if trouble:
        parts += ["Failures:", ""] + trouble + [""]
    if worst:
        parts.append(f"Worst error that passed: {worst[0]:.1e} x max |PyTorch| "
                     f"({worst[1]}, batch {worst[2]}, {LABELS[worst[3]]}).")
        parts.append("")
    if chart:
        parts += [f"![Kiln / ONNX Runtime time per model]({chart})", ""]
    parts += [f"    {meta['command']}", ""]
    return "\n".join(parts)


def write_chart(results, meta, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped, matplotlib is not installed (Debian: python3-matplotlib)")
        return False
    models = [r["model"] for r in results if "batches" in r]
    batches = [str(b) for b in meta["batches"]]
    width = 0.8 / len(batches)
    fig, ax = plt.subplots(figsize=(max(7, 1.0 * len(models) + 2), 4.5))
    colors = ["tab:orange", "tab:red", "tab:purple", "tab:brown"]
    tallest = 1.0
    for i, b in enumerate(batches):
        xs = [m + (i - (len(batches) - 1) / 2) * width for m in range(len(models))]
        auto = [ratio(r["batches"][b], "kiln_auto") for r in results if "batches" in r]
        direct = [ratio(r["batches"][b], "kiln_all") for r in results if "batches" in r]
        tallest = max([tallest] + [v for v in auto + direct if v is not None])
        bars = ax.bar(xs, [v or 0 for v in auto], width, color=colors[i % len(colors)],
                      label=f"batch {b}: all + auto / ORT")
        for bar, v in zip(bars, auto):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                    "n/a" if v is None else f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        ax.plot(xs, [v if v is not None else float("nan") for v in direct], "k_", markersize=9,
                label="direct convolutions (all / ORT)" if i == 0 else None)
    ax.axhline(1.0, color="tab:green", linewidth=1, label="ONNX Runtime")
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels(models, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("Kiln time / ONNX Runtime time (lower is better)")
    ort = meta["versions"].get("onnxruntime-node", "?")
    ax.set_title(f"Kiln --fuse=all --conv-algo auto / ONNX Runtime {ort}, {meta['threads']} threads, "
                 f"{meta['size']}x{meta['size']}\n{meta['cpu']}, {meta['cpus']} CPUs, "
                 f"{meta['date']}, load average {meta['load_average_before']:.1f}", fontsize=9)
    # The legend goes in a band above the tallest bar or tick, not over the first models.
    ax.set_ylim(0, tallest + 0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def progress_line(row):
    parts = [f"batch {b}: all + auto / ORT {fmt_ratio(ratio(cells, 'kiln_auto'))}"
             for b, cells in row["batches"].items()]
    return f"  {row['model']}: " + ", ".join(parts)


def write(results, meta, out, readme):
    """Writes OUT/zoo.{md,json,png} and README's block; True when nothing failed."""
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, "zoo.png")
    has_chart = write_chart(results, meta, png)
    text = markdown(results, meta, "zoo.png" if has_chart else None)
    print(text)
    with open(os.path.join(out, "zoo.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "zoo.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    if readme:
        # bench/results/ is not committed: the README's chart and the figures
        # behind it go to docs/perf/ beside it, as the ResNet18 chart does.
        perf = os.path.join(os.path.dirname(os.path.abspath(readme)), "docs", "perf")
        os.makedirs(perf, exist_ok=True)
        shutil.copyfile(os.path.join(out, "zoo.json"), os.path.join(perf, "zoo.json"))
        chart = None
        if has_chart:
            shutil.copyfile(png, os.path.join(perf, "zoo.png"))
            chart = os.path.join("docs", "perf", "zoo.png")
        with open(readme) as f:
            old = f.read()
        with open(readme, "w") as f:
            f.write(splice(old, markdown(results, meta, chart), BEGIN, END))
    return not problems(results, meta["tolerance"]) and all("batches" in r for r in results)
