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
//
//   node silero_vad.js run MODEL.onnx FEED_DIR OUT_DIR
//     ONNX Runtime's outputs for FEED_DIR/input_<i>.npy as OUT_DIR/output_<i>.npy.
//
//   node silero_vad.js score DATA_DIR PROB.npy... [--threshold 0.5]
//     One JSON line per PROB file (output_0.npy of a run, [N, 1] or [N]): agreement (percent of
//     chunks whose speech decision, prob >= threshold, equals the fp32 model's) and precision,
//     recall and F1 (percent) of its speech decisions against DATA_DIR/labels.npy.
'use strict';

const fs = require('fs');
const path = require('path');

const RATE = 16000;
const MODELS = {
  v5: { frame: 512, context: 64, state: [['state', 128]] },
  legacy: { frame: 1536, context: 0, state: [['h', 64], ['c', 64]] },
};

function fail(msg, code = 2) {
  process.stderr.write(`silero_vad: ${msg}\n`);
  process.exit(code);
}

const NPY_TYPES = {
  '<f4': [Float32Array, 'float32'], '<i8': [BigInt64Array, 'int64'], '<f8': [Float64Array, 'float64'],
};
const NPY_DESCR = { float32: '<f4', int64: '<i8' };

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) fail(`${file}: unsupported header ${header}`);
  const type = NPY_TYPES[descr[1]];
  if (!type) fail(`${file}: element type ${descr[1]} is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(n * type[0].BYTES_PER_ELEMENT);
  if (buf.length - start - hlen < bytes.length) fail(`${file}: truncated: ${dims} needs ${bytes.length} bytes`);
  bytes.set(buf.subarray(start + hlen, start + hlen + bytes.length));
  return { dims, type: type[1], data: new type[0](bytes.buffer) };
}

function writeNpy(file, type, dims, data) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${NPY_DESCR[type]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
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
  const pos = [];
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--limit') limit = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length !== 4 || !(limit > 0)) fail('usage: chunks MODEL.onnx v5|legacy STREAM_DIR OUT_DIR [--limit N]');
  const [model, kind, streamDir, outDir] = pos;
  const spec = MODELS[kind];
  if (!spec) fail(`unknown model kind '${kind}' (v5 or legacy)`);
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
  const x = stream.data;
  const width = spec.context + spec.frame;
  const n = Math.min(limit, Math.floor(x.length / spec.frame));
  if (n < 1) fail(`${streamDir}/stream.npy: shorter than one ${spec.frame}-sample chunk`);
  const input = new Float32Array(n * width);
  const states = spec.state.map(([, size]) => new Float32Array(n * 2 * size));
  const prob = new Float32Array(n);
  const labels = new BigInt64Array(n);
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(RATE)]), []);
  let carried = spec.state.map(([, size]) => new ort.Tensor('float32', new Float32Array(2 * size), [2, 1, size]));
  for (let i = 0; i < n; ++i) {
    const start = i * spec.frame;
    const row = input.subarray(i * width, (i + 1) * width);
    // The context before the first chunk is silence, as the package starts.
    for (let k = 0; k < width; ++k) {
      const t = start - spec.context + k;
      row[k] = t >= 0 ? x[t] : 0;
    }
    spec.state.forEach(([, size], j) => states[j].set(carried[j].data, i * 2 * size));
    const feeds = { input: new ort.Tensor('float32', row.slice(), [1, width]), sr };
    spec.state.forEach(([name], j) => { feeds[name] = carried[j]; });
    const out = await s.run(feeds);
    prob[i] = out.output.data[0];
    carried = kind === 'v5' ? [out.stateN] : [out.hn, out.cn];
    labels[i] = speechShare(segs.speech, start, start + spec.frame) >= 0.5 ? 1n : 0n;
  }
  fs.mkdirSync(path.join(outDir, 'feed'), { recursive: true });
  writeNpy(path.join(outDir, 'input.npy'), 'float32', [n, width], input);
  spec.state.forEach(([name, size], j) => {
    writeNpy(path.join(outDir, `${name}.npy`), 'float32', [n, 2, size], states[j]);
  });
  writeNpy(path.join(outDir, 'sr.npy'), 'int64', [], BigInt64Array.from([BigInt(RATE)]));
  writeNpy(path.join(outDir, 'labels.npy'), 'int64', [n], labels);
  writeNpy(path.join(outDir, 'fp32_prob.npy'), 'float32', [n], prob);
  // The model's layout: states are [2, batch, size], samples on axis 1.
  const feed = {
    input: ['float32', [n, width], input],
    sr: ['int64', [], BigInt64Array.from([BigInt(RATE)])],
  };
  spec.state.forEach(([name, size], j) => {
    const t = new Float32Array(2 * n * size);
    for (let i = 0; i < n; ++i) {
      for (let l = 0; l < 2; ++l) {
        t.set(states[j].subarray((i * 2 + l) * size, (i * 2 + l + 1) * size), (l * n + i) * size);
      }
    }
    feed[name] = ['float32', [2, n, size], t];
  });
  s.inputNames.forEach((name, i) => {
    if (!feed[name]) fail(`${model}: unexpected input '${name}'`);
    writeNpy(path.join(outDir, 'feed', `input_${i}.npy`), ...feed[name]);
  });
  let speech = 0;
  for (const l of labels) speech += Number(l);
  process.stdout.write(JSON.stringify({ chunks: n, chunk_samples: spec.frame, speech_chunks: speech }) + '\n');
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
  const pos = [];
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--threshold') threshold = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length < 2 || !Number.isFinite(threshold)) fail('usage: score DATA_DIR PROB.npy... [--threshold T]');
  const dir = pos[0];
  const labels = readNpy(path.join(dir, 'labels.npy')).data;
  const ref = readNpy(path.join(dir, 'fp32_prob.npy')).data;
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

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'chunks') return chunks(rest);
  if (cmd === 'run') return run(rest);
  if (cmd === 'score') return score(rest);
  return fail('usage: node silero_vad.js chunks|run|score ... (see the header of this file)');
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e), 3));
