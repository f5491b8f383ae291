// Times an ONNX model in ONNX Runtime (onnxruntime-node, CPU) and prints one
// line of JSON: {"median_ms", "min_ms", "max_ms", "runs", "threads", "session_ms",
// "ort_version"}; session_ms is InferenceSession.create (reading the file included).
//
//   node run_ort.js --model M.onnx --input X.f32 --shape 1,3,224,224
//                   [--threads 2] [--iters 30] [--warmup 5] [--output Y.f32]
//
// X.f32 / Y.f32 are raw float32 little-endian arrays (numpy's tofile()).
// All graph optimisations are on; intra-op threads = --threads; one
// inter-op thread (sequential execution), as Kiln and PyTorch run.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = { threads: 2, iters: 30, warmup: 5 };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  for (const k of ['model', 'input', 'shape']) {
    if (!args[k]) throw new Error(`--${k} is required`);
  }
  return args;
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

async function main() {
  const args = parseArgs(process.argv);
  const threads = Number(args.threads), iters = Number(args.iters), warmup = Number(args.warmup);
  const created = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(args.model, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const sessionMs = Number(process.hrtime.bigint() - created) / 1e6;
  const shape = args.shape.split(',').map(Number);
  const raw = fs.readFileSync(args.input);
  const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };

  let result;
  for (let i = 0; i < warmup; ++i) result = await session.run(feeds);
  const samples = [];
  for (let i = 0; i < iters; ++i) {
    const start = process.hrtime.bigint();
    result = await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  if (args.output) {
    const y = result[session.outputNames[0]].data;
    fs.writeFileSync(args.output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  }
  samples.sort((a, b) => a - b);
  const version = require('onnxruntime-node/package.json').version;
  console.log(JSON.stringify({
    median_ms: median(samples), min_ms: samples[0], max_ms: samples[samples.length - 1],
    runs: samples.length, threads, session_ms: sessionMs, ort_version: version,
  }));
}

main().catch((e) => {
  console.error(`run_ort.js: ${e.message}`);
  process.exit(1);
});
