#!/usr/bin/env node
// Runs an ONNX model under ONNX Runtime (npm package onnxruntime-node) on NumPy inputs
// (IN_DIR/input_<i>.npy, graph input order) and compares every output with the .npy files qtune
// wrote (`qtune run ... --out QTUNE_DIR`: output_<i>.npy). Prints one JSON line per output
// {"output", "shape", "max_abs_err", "range", "agrees"}; exit 0 when all agree, 1 when one does
// not, 2 on bad input. Outputs agree when shapes and types match and the largest difference is
// at most TOL x the output's value range (plus TOL for constant outputs). --save DIR also writes
// ONNX Runtime's outputs there as output_<i>.npy.
//
//   node tools/ort_compare.js MODEL.onnx IN_DIR QTUNE_DIR [--tol 0.01] [--save DIR]
'use strict';

const fs = require('fs');
const path = require('path');

function fail(msg, code = 2) {
  process.stderr.write(`ort_compare: ${msg}\n`);
  process.exit(code);
}

const npy = require('./npy');

function readNpy(file) {
  try {
    return npy.readNpy(file);
  } catch (e) {
    return fail(e.message);
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const pos = [];
  let tol = 0.01;
  let saveDir = null;
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--tol') tol = Number(argv[++i]);
    else if (argv[i] === '--save') saveDir = argv[++i];
    else pos.push(argv[i]);
  }
  if (pos.length !== 3 || !(tol >= 0) || saveDir === undefined) {
    fail('usage: node tools/ort_compare.js MODEL.onnx IN_DIR QTUNE_DIR [--tol T] [--save DIR]');
  }
  const [model, inDir, qtDir] = pos;
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node: ${e.message}`);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(model);
  } catch (e) {
    fail(`ONNX Runtime refuses ${model}: ${e.message}`, 1);
  }
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const a = readNpy(path.join(inDir, `input_${i}.npy`));
    feeds[name] = new ort.Tensor(a.type, a.data, a.dims);
  });
  const outs = await session.run(feeds);
  let allAgree = true;
  if (saveDir !== null) {
    try {
      fs.mkdirSync(saveDir, { recursive: true });
      session.outputNames.forEach((name, i) => {
        const t = outs[name];
        npy.writeNpy(path.join(saveDir, `output_${i}.npy`), t.type, Array.from(t.dims), t.data);
      });
    } catch (e) {
      fail(`cannot write ONNX Runtime's outputs to ${saveDir}: ${e.message}`);
    }
  }
  session.outputNames.forEach((name, i) => {
    const got = outs[name];
    const want = readNpy(path.join(qtDir, `output_${i}.npy`));
    const sameShape = JSON.stringify(Array.from(got.dims)) === JSON.stringify(want.dims);
    let maxErr = 0;
    let lo = Infinity;
    let hi = -Infinity;
    if (sameShape) {
      for (let k = 0; k < want.data.length; ++k) {
        const w = Number(want.data[k]);
        const g = Number(got.data[k]);
        lo = Math.min(lo, w);
        hi = Math.max(hi, w);
        const d = Math.abs(g - w);
        maxErr = Number.isNaN(d) ? (Number.isNaN(g) && Number.isNaN(w) ? maxErr : Infinity) : Math.max(maxErr, d);
      }
    }
    const range = hi > lo ? hi - lo : 0;
    const agrees = sameShape && got.type === want.type && maxErr <= tol * range + tol;
    allAgree = allAgree && agrees;
    process.stdout.write(JSON.stringify({
      output: name, shape: Array.from(got.dims), type: got.type, qtune_type: want.type,
      max_abs_err: maxErr, range, agrees,
    }) + '\n');
  });
  process.exit(allAgree ? 0 : 1);
}

main().catch((e) => fail(e.stack || String(e)));
