#!/usr/bin/env node
// Times an ONNX model under ONNX Runtime (npm package onnxruntime-node) the way
// `qtune bench model` times it under qtune: random input of each graph input's declared shape
// (dynamic dims: --batch for the first, 1 elsewhere, or --shape name=1x3x224x224), warm-up
// runs, then timed runs. Prints one JSON line {"median_ms", "min_ms", "max_ms", "cpu_ms",
// "runs", "peak_rss_kb", "model_rss_kb", "threads", "batch"}; cpu_ms is the process's CPU time
// per run, all threads; model_rss_kb the peak RSS above what the process held before loading
// the model (node and onnxruntime-node themselves). The CPU execution provider with `--threads` intra-op threads (default 2) and ONNX
// Runtime's default graph optimizations. Used by bench/compare.sh.
//
//   node bench/ort_bench.js MODEL.onnx [--batch N] [--threads T] [--warmup W] [--runs R]
//                           [--shape NAME=DxD...[,NAME=DxD...]]
'use strict';

const USAGE =
  'usage: node bench/ort_bench.js MODEL.onnx [--batch N] [--threads T] [--warmup W] [--runs R] ' +
  '[--shape NAME=DxD...[,NAME=DxD...]]';

function fail(msg, code = 2) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(code);
}

function positive(flag, text) {
  const v = Number(text);
  if (!Number.isInteger(v) || v <= 0) fail(`${flag} needs a positive integer, got '${text}'\n${USAGE}`);
  return v;
}

function parseArgs(argv) {
  const opts = { batch: 1, threads: 2, warmup: 3, runs: 20, shapes: {} };
  const pos = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (['--batch', '--threads', '--warmup', '--runs'].includes(a)) {
      if (i + 1 >= argv.length) fail(`${a} needs a value\n${USAGE}`);
      opts[a.slice(2)] = positive(a, argv[++i]);
    } else if (a === '--shape') {
      // NAME=DxD..., several separated by commas (as qtune bench model takes them).
      for (const item of (argv[++i] || '').split(',')) {
        const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(item);
        if (!m) fail(`--shape needs NAME=DxD..., got '${item}'\n${USAGE}`);
        opts.shapes[m[1]] = m[2].split('x').map(Number);
      }
    } else if (a.startsWith('--')) {
      fail(`unknown option ${a}\n${USAGE}`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 1) fail(USAGE);
  opts.model = pos[0];
  return opts;
}

// Typed array and ONNX Runtime type name per element type onnxruntime-node reports.
const TYPES = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

// A deterministic generator, so both runtimes and repeated runs see comparable data.
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function inputTensor(ort, meta, name, opts, index) {
  const type = meta.type || 'float32';
  const Ctor = TYPES[type];
  if (!Ctor) fail(`${opts.model}: input '${name}' has element type ${type}, which is not generated`);
  let dims = opts.shapes[name];
  if (!dims) {
    const declared = meta.shape || [];
    dims = declared.map((d, axis) => {
      if (typeof d === 'number' && d > 0) return d;
      return axis === 0 ? opts.batch : 1;
    });
    // A fixed first dim is the model's batch; --batch only sets a dynamic one.
  }
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Ctor(n);
  const rnd = lcg(1234 + index);
  for (let i = 0; i < n; ++i) {
    const u = rnd();
    if (Ctor === BigInt64Array || Ctor === BigUint64Array) data[i] = BigInt(Math.floor(u * 4));
    else if (type === 'bool') data[i] = u < 0.5 ? 0 : 1;
    else if (Ctor === Float32Array || Ctor === Float64Array) data[i] = 2 * u - 1;
    else data[i] = Math.floor(u * 100);
  }
  return new ort.Tensor(type, data, dims);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (npm install onnxruntime-node; set NODE_PATH): ${e.message}`, 3);
  }
  // Memory before the model: what the runtime itself holds, for model_rss_kb.
  const rssBeforeKb = Math.round(process.memoryUsage().rss / 1024);
  let session;
  try {
    session = await ort.InferenceSession.create(opts.model, {
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
  } catch (e) {
    fail(`${opts.model}: ONNX Runtime cannot load it: ${e.message}`);
  }
  const metas = session.inputMetadata;
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const meta = Array.isArray(metas) ? metas[i] : (metas && metas[name]) || {};
    feeds[name] = inputTensor(ort, meta, name, opts, i);
  });
  const once = async () => {
    try {
      await session.run(feeds);
    } catch (e) {
      fail(`${opts.model}: run failed: ${e.message}`, 3);
    }
  };
  for (let i = 0; i < opts.warmup; ++i) await once();
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < opts.runs; ++i) {
    const t0 = process.hrtime.bigint();
    await once();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  const first = feeds[session.inputNames[0]];
  process.stdout.write(JSON.stringify({
    model: opts.model,
    batch: first && first.dims.length ? first.dims[0] : 1,
    threads: opts.threads,
    runs: times.length,
    median_ms: Number(median.toFixed(4)),
    min_ms: Number(times[0].toFixed(4)),
    max_ms: Number(times[times.length - 1].toFixed(4)),
    cpu_ms: Number(((cpu.user + cpu.system) / 1000 / times.length).toFixed(4)),
    peak_rss_kb: process.resourceUsage().maxRSS,
    model_rss_kb: Math.max(0, process.resourceUsage().maxRSS - rssBeforeKb),
  }) + '\n');
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e), 3));
