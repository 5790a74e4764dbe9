#!/usr/bin/env node
// Silero VAD data and scores with ONNX Runtime (npm onnxruntime-node), for tools/zoo/silero_vad.sh.
//
//   node silero_vad.js chunks MODEL.onnx v5|legacy STREAM_DIR OUT_DIR [--limit N]
//     Runs the fp32 model over STREAM_DIR/stream.npy (16 kHz, from silero_vad_audio.py) chunk
//     by chunk as @ricky0123/vad-web does (v5: 512 new samples after the previous chunk's last
//     64; legacy: 1536 samples), carrying its recurrent state. Each chunk becomes one sample of
//     a dataset, with the state the fp32 model itself had reached there (teacher forcing), so
//     every sample stands alone. Writes OUT_DIR/input.npy [N, L] f32, the state (v5: state.npy
//     [N, 2, 128]; legacy: h.npy and c.npy [N, 2, 64], samples on axis 0), sr.npy (int64 0-d),
//     labels.npy (int64 [N]: 1 when at least half of the chunk's new samples are speech in
//     STREAM_DIR/segments.json), fp32_prob.npy [N] and feed/input_<i>.npy: the whole set as one
//     batch in the model's own input order and layout (qtune run / tools/ort_compare.js).
//     --skip N runs N chunks for their state first; --rate 8000 feeds the model the stream
//     decimated to 8 kHz (chunks of half the size).
//
//   node silero_vad.js feed MODEL.onnx v5|legacy DATA_DIR FEED_DIR
//     DATA_DIR's per-sample files as FEED_DIR/input_<i>.npy (what `chunks` writes to feed/);
//     works without ONNX Runtime.
//
//   node silero_vad.js run MODEL.onnx FEED_DIR OUT_DIR
//     ONNX Runtime's outputs for FEED_DIR/input_<i>.npy as OUT_DIR/output_<i>.npy.
//
//   node silero_vad.js compare GOT_DIR WANT_DIR [--tol 1e-4]
//     Each WANT_DIR/output_<i>.npy against GOT_DIR's: equal shapes and a largest difference of at
//     most TOL x the wanted output's range (TOL 0: identical). One JSON line each; exit 1 if not.
//
//   node silero_vad.js score DATA_DIR PROB.npy... [--threshold 0.5]
//     One JSON line per PROB file (output_0.npy of a run, [N, 1] or [N]): agreement (percent of
//     chunks whose speech decision, prob >= threshold, equals the fp32 model's, or that of the
//     --reference probabilities) and precision,
//     recall and F1 (percent) of its speech decisions against DATA_DIR/labels.npy.
'use strict';

const fs = require('fs');
const path = require('path');

const RATE = 16000;
// Chunk sizes at 16 kHz (halved at 8 kHz), as @ricky0123/vad-web feeds them.
const MODELS = {
  v5: { frame: 512, context: 64, state: [['state', 128]] },
  legacy: { frame: 1536, context: 0, state: [['h', 64], ['c', 64]] },
};

function fail(msg, code = 2) {
  process.stderr.write(`silero_vad: ${msg}\n`);
  process.exit(code);
}

const npy = require('../npy');
const { writeNpy } = npy;

function readNpy(file) {
  try {
    return npy.readNpy(file);
  } catch (e) {
    return fail(e.message);
  }
}

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    return fail(`cannot load onnxruntime-node (npm install onnxruntime-node; set NODE_PATH): ${e.message}`, 3);
  }
}

async function session(ort, model) {
  try {
    return await ort.InferenceSession.create(model);
  } catch (e) {
    return fail(`ONNX Runtime cannot load ${model}: ${e.message}`, 1);
  }
}

// Share of samples [a, b) inside the speech segments (sorted, disjoint [start, end) pairs).
function speechShare(segments, a, b) {
  let inside = 0;
  for (const [s, e] of segments) inside += Math.max(0, Math.min(b, e) - Math.max(a, s));
  return inside / (b - a);
}

async function chunks(argv) {
  let limit = Infinity;
  let skip = 0;
  let rate = RATE;
  const pos = [];
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--limit') limit = Number(argv[++i]);
    else if (argv[i] === '--skip') skip = Number(argv[++i]);
    else if (argv[i] === '--rate') rate = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length !== 4 || !(limit > 0) || !(skip >= 0) || (rate !== RATE && rate !== RATE / 2)) {
    fail('usage: chunks MODEL.onnx v5|legacy STREAM_DIR OUT_DIR [--limit N] [--skip N] [--rate 16000|8000]');
  }
  const [model, kind, streamDir, outDir] = pos;
  const base = MODELS[kind];
  if (!base) fail(`unknown model kind '${kind}' (v5 or legacy)`);
  const step = RATE / rate;  // stream samples per model sample
  const spec = { ...base, frame: base.frame / step, context: base.context / step };
  const stream = readNpy(path.join(streamDir, 'stream.npy'));
  if (stream.type !== 'float32' || stream.dims.length !== 1) fail(`${streamDir}/stream.npy: expected float32 [T]`);
  let segs;
  try {
    segs = JSON.parse(fs.readFileSync(path.join(streamDir, 'segments.json'), 'utf8'));
  } catch (e) {
    fail(`${streamDir}/segments.json: ${e.message}`);
  }
  if (segs.sample_rate !== RATE || !Array.isArray(segs.speech)) fail(`${streamDir}/segments.json: expected 16 kHz speech segments`);
  const ort = loadOrt();
  const s = await session(ort, model);
  // At 8 kHz the stream is averaged over pairs of samples (a plain low-pass before decimation).
  const x = step === 1 ? stream.data : Float32Array.from(
    { length: Math.floor(stream.data.length / 2) }, (_, k) => (stream.data[2 * k] + stream.data[2 * k + 1]) / 2);
  const width = spec.context + spec.frame;
  const total = Math.floor(x.length / spec.frame);
  // The first `skip` chunks only advance the state; the next `limit` become samples.
  const n = Math.min(limit, total - skip);
  if (n < 1) fail(`${streamDir}/stream.npy: no ${spec.frame}-sample chunk after skipping ${skip}`);
  const input = new Float32Array(n * width);
  const states = spec.state.map(([, size]) => new Float32Array(n * 2 * size));
  const prob = new Float32Array(n);
  const labels = new BigInt64Array(n);
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(rate)]), []);
  let carried = spec.state.map(([, size]) => new ort.Tensor('float32', new Float32Array(2 * size), [2, 1, size]));
  const chunk = new Float32Array(width);
  for (let c = 0; c < skip + n; ++c) {
    const start = c * spec.frame;
    // The context before the first chunk is silence, as the package starts.
    for (let k = 0; k < width; ++k) {
      const t = start - spec.context + k;
      chunk[k] = t >= 0 ? x[t] : 0;
    }
    const i = c - skip;
    if (i >= 0) {
      input.set(chunk, i * width);
      spec.state.forEach(([, size], j) => states[j].set(carried[j].data, i * 2 * size));
    }
    const feeds = { input: new ort.Tensor('float32', chunk.slice(), [1, width]), sr };
    spec.state.forEach(([name], j) => { feeds[name] = carried[j]; });
    const out = await s.run(feeds);
    carried = kind === 'v5' ? [out.stateN] : [out.hn, out.cn];
    if (i < 0) continue;
    prob[i] = out.output.data[0];
    labels[i] = speechShare(segs.speech, start * step, (start + spec.frame) * step) >= 0.5 ? 1n : 0n;
  }
  fs.mkdirSync(outDir, { recursive: true });
  writeNpy(path.join(outDir, 'input.npy'), 'float32', [n, width], input);
  spec.state.forEach(([name, size], j) => {
    writeNpy(path.join(outDir, `${name}.npy`), 'float32', [n, 2, size], states[j]);
  });
  writeNpy(path.join(outDir, 'sr.npy'), 'int64', [], BigInt64Array.from([BigInt(rate)]));
  writeNpy(path.join(outDir, 'labels.npy'), 'int64', [n], labels);
  writeNpy(path.join(outDir, 'fp32_prob.npy'), 'float32', [n], prob);
  writeFeed(s.inputNames, kind, outDir, path.join(outDir, 'feed'));
  let speech = 0;
  for (const l of labels) speech += Number(l);
  process.stdout.write(JSON.stringify({ chunks: n, chunk_samples: spec.frame, speech_chunks: speech }) + '\n');
}

// The per-sample files of DATA_DIR as the model takes them, in its input order: states are
// [2, batch, size], samples on axis 1.
function writeFeed(inputNames, kind, dataDir, feedDir) {
  const spec = MODELS[kind];
  const input = readNpy(path.join(dataDir, 'input.npy'));
  const n = input.dims[0];
  const feed = { input: [input.type, input.dims, input.data] };
  const sr = readNpy(path.join(dataDir, 'sr.npy'));
  feed.sr = [sr.type, sr.dims, sr.data];
  spec.state.forEach(([name]) => {
    const a = readNpy(path.join(dataDir, `${name}.npy`));
    if (a.dims.length !== 3 || a.dims[0] !== n) fail(`${dataDir}/${name}.npy: expected [${n}, layers, size]`);
    const [, layers, size] = a.dims;
    const t = new Float32Array(a.data.length);
    for (let i = 0; i < n; ++i) {
      for (let l = 0; l < layers; ++l) {
        t.set(a.data.subarray((i * layers + l) * size, (i * layers + l + 1) * size), (l * n + i) * size);
      }
    }
    feed[name] = ['float32', [layers, n, size], t];
  });
  fs.mkdirSync(feedDir, { recursive: true });
  inputNames.forEach((name, i) => {
    if (!feed[name]) fail(`unexpected model input '${name}'`);
    writeNpy(path.join(feedDir, `input_${i}.npy`), ...feed[name]);
  });
}

async function feedCmd(argv) {
  if (argv.length !== 4) fail('usage: feed MODEL.onnx v5|legacy DATA_DIR FEED_DIR');
  const [model, kind, dataDir, feedDir] = argv;
  if (!MODELS[kind]) fail(`unknown model kind '${kind}' (v5 or legacy)`);
  // The input order is the model's; reading it needs no ONNX Runtime session when it is known.
  const order = kind === 'v5' ? ['input', 'state', 'sr'] : ['input', 'sr', 'h', 'c'];
  let names = order;
  try {
    const ort = require('onnxruntime-node');
    names = (await ort.InferenceSession.create(model)).inputNames;
  } catch (e) {
    // Without ONNX Runtime the package's known order stands.
  }
  writeFeed(names, kind, dataDir, feedDir);
}

async function run(argv) {
  if (argv.length !== 3) fail('usage: run MODEL.onnx FEED_DIR OUT_DIR');
  const [model, feedDir, outDir] = argv;
  const ort = loadOrt();
  const s = await session(ort, model);
  const feeds = {};
  s.inputNames.forEach((name, i) => {
    const a = readNpy(path.join(feedDir, `input_${i}.npy`));
    feeds[name] = new ort.Tensor(a.type, a.data, a.dims);
  });
  const out = await s.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  s.outputNames.forEach((name, i) => {
    const t = out[name];
    writeNpy(path.join(outDir, `output_${i}.npy`), t.type, Array.from(t.dims), t.data);
  });
}

function score(argv) {
  let threshold = 0.5;
  let reference = '';
  const pos = [];
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--threshold') threshold = Number(argv[++i]);
    else if (argv[i] === '--reference') reference = argv[++i];
    else pos.push(argv[i]);
  }
  if (pos.length < 2 || !Number.isFinite(threshold)) {
    fail('usage: score DATA_DIR PROB.npy... [--threshold T] [--reference PROB.npy]');
  }
  const dir = pos[0];
  const labels = readNpy(path.join(dir, 'labels.npy')).data;
  const ref = readNpy(reference || path.join(dir, 'fp32_prob.npy')).data;
  if (ref.length !== labels.length) fail(`${reference}: ${ref.length} probabilities for ${labels.length} chunks`);
  for (const file of pos.slice(1)) {
    const p = readNpy(file);
    if (p.type !== 'float32' || p.data.length !== labels.length) {
      fail(`${file}: expected ${labels.length} float32 probabilities, got ${p.type} [${p.dims}]`);
    }
    let agree = 0, tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < labels.length; ++i) {
      const speech = p.data[i] >= threshold;
      agree += speech === (ref[i] >= threshold);
      const truth = labels[i] === 1n;
      tp += speech && truth;
      fp += speech && !truth;
      fn += !speech && truth;
    }
    const precision = tp + fp ? (100 * tp) / (tp + fp) : 0;
    const recall = tp + fn ? (100 * tp) / (tp + fn) : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    const r = (v) => Number(v.toFixed(3));
    process.stdout.write(JSON.stringify({
      file, chunks: labels.length, agreement: r((100 * agree) / labels.length),
      precision: r(precision), recall: r(recall), f1: r(f1),
    }) + '\n');
  }
}

// Every output_<i>.npy of GOT_DIR against WANT_DIR's: one JSON line each; exit 1 unless all
// have the same shape and a largest difference of at most TOL x the wanted output's range.
function compare(argv) {
  let tol = 1e-4;
  const pos = [];
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--tol') tol = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length !== 2 || !(tol >= 0)) fail('usage: compare GOT_DIR WANT_DIR [--tol T]');
  const [gotDir, wantDir] = pos;
  const files = fs.readdirSync(wantDir).filter((f) => /^output_\d+\.npy$/.test(f)).sort();
  if (files.length === 0) fail(`${wantDir}: no output_<i>.npy`);
  let all = true;
  for (const f of files) {
    const got = readNpy(path.join(gotDir, f));
    const want = readNpy(path.join(wantDir, f));
    const same = JSON.stringify(got.dims) === JSON.stringify(want.dims);
    let err = same ? 0 : Infinity;
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; same && k < want.data.length; ++k) {
      const w = Number(want.data[k]);
      lo = Math.min(lo, w);
      hi = Math.max(hi, w);
      const d = Math.abs(Number(got.data[k]) - w);
      err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    }
    const range = hi > lo ? hi - lo : 0;
    const ok = same && err <= tol * range;
    all = all && ok;
    process.stdout.write(JSON.stringify({ output: f, shape: got.dims, max_abs_err: err, range, ok }) + '\n');
  }
  process.exit(all ? 0 : 1);
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'chunks') return chunks(rest);
  if (cmd === 'feed') return feedCmd(rest);
  if (cmd === 'run') return run(rest);
  if (cmd === 'score') return score(rest);
  if (cmd === 'compare') return compare(rest);
  return fail('usage: node silero_vad.js chunks|run|score ... (see the header of this file)');
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e), 3));
