#!/usr/bin/env node
// Top-1 accuracy of an ONNX model under ONNX Runtime (npm package onnxruntime-node) on IDX
// image/label files, preprocessed exactly like qtune's Fashion-MNIST data YAML: an independent
// check that qtune's exported QDQ models mean what qtune thinks. Used by
// tests/integration/check_ort.sh; prints one JSON line {"correct","samples","top1"}.
//
//   node tools/ort_eval.js MODEL.onnx IMAGES.idx[.gz] LABELS.idx[.gz] [--limit N] [--batch 100]
'use strict';

const fs = require('fs');
const zlib = require('zlib');

const USAGE =
  'usage: node tools/ort_eval.js MODEL.onnx IMAGES.idx[.gz] LABELS.idx[.gz] [--limit N] [--batch B]';
// The bundled models' training preprocessing, in float32: (v / 255 - mean) / std.
const MEAN = Math.fround(0.2860);
const STD = Math.fround(0.3530);

function fail(msg, code = 2) {
  process.stderr.write(`ort_eval: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const pos = [];
  const opts = { limit: -1, batch: 100 };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--limit' || a === '--batch') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) fail(`${a} needs a positive integer\n${USAGE}`);
      opts[a.slice(2)] = v;
    } else if (a.startsWith('--')) {
      fail(`unknown option ${a}\n${USAGE}`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 3) fail(USAGE);
  [opts.model, opts.images, opts.labels] = pos;
  return opts;
}

// An IDX file (gzip or plain) as {dims, data: Uint8Array}; only unsigned-byte payloads.
function readIdx(path) {
  let bytes;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    fail(`${path}: cannot open: ${e.message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      fail(`${path}: gzip: ${e.message}`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) fail(`${path}: not an IDX file`);
  if (bytes[2] !== 0x08) fail(`${path}: IDX type 0x${bytes[2].toString(16)} (only u8 is read)`);
  const ndims = bytes[3];
  const header = 4 + 4 * ndims;
  if (bytes.length < header) fail(`${path}: truncated IDX header`);
  const dims = [];
  for (let i = 0; i < ndims; ++i) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header < count) {
    fail(`${path}: ${bytes.length - header} data bytes, dims [${dims}] need ${count}`);
  }
  return { dims, data: bytes.subarray(header, header + count) };
}

function argmax(row) {
  let best = -1;
  for (let k = 0; k < row.length; ++k) {
    if (Number.isNaN(row[k])) continue;
    if (best < 0 || row[k] > row[best]) best = k;
  }
  return best;
}

// The fixed batch size of the model's first input, or 0 when it is dynamic/unknown.
function fixedBatch(session) {
  const meta = session.inputMetadata;
  if (!meta) return 0;
  const m = Array.isArray(meta) ? meta[0] : meta[session.inputNames[0]];
  const d = m && m.shape ? m.shape[0] : undefined;
  return typeof d === 'number' && d > 0 ? d : 0;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (npm install onnxruntime-node; set NODE_PATH): ${e.message}`, 3);
  }
  const images = readIdx(opts.images);
  const labels = readIdx(opts.labels);
  if (images.dims.length !== 3) fail(`${opts.images}: dims [${images.dims}], expected [N,H,W]`);
  const [total, H, W] = images.dims;
  if (labels.dims[0] !== total) {
    fail(`${opts.labels}: ${labels.dims[0]} labels for ${total} images`);
  }
  const n = opts.limit > 0 ? Math.min(opts.limit, total) : total;
  const hw = H * W;

  let session;
  try {
    session = await ort.InferenceSession.create(opts.model);
  } catch (e) {
    fail(`${opts.model}: ONNX Runtime cannot load it: ${e.message}`);
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const fixed = fixedBatch(session);
  const batch = fixed || opts.batch;

  let correct = 0;
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const rows = fixed || count;  // a fixed-batch model gets zero-padded batches
    const x = new Float32Array(rows * hw);
    for (let i = 0; i < count * hw; ++i) {
      const v = Math.fround(images.data[start * hw + i] / 255);
      x[i] = Math.fround(Math.fround(v - MEAN) / STD);
    }
    let out;
    try {
      out = await session.run({ [inputName]: new ort.Tensor('float32', x, [rows, 1, H, W]) });
    } catch (e) {
      fail(`${opts.model}: run failed on batch at ${start}: ${e.message}`, 3);
    }
    const y = out[outputName];
    const classes = y.data.length / rows;
    for (let i = 0; i < count; ++i) {
      const pred = argmax(y.data.subarray(i * classes, (i + 1) * classes));
      if (pred === labels.data[start + i]) ++correct;
    }
  }
  const top1 = n === 0 ? 0 : (100 * correct) / n;
  process.stdout.write(JSON.stringify({ correct, samples: n, top1: Number(top1.toFixed(4)) }) + '\n');
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e), 3));
