// NumPy .npy files for the Node.js tools that run ONNX Runtime: read into onnxruntime-node's
// tensor arguments, and write its outputs back. Errors are thrown with the file's name.
'use strict';

const fs = require('fs');

// .npy descr -> [typed array constructor, onnxruntime type name]
const NPY_TYPES = {
  '<f4': [Float32Array, 'float32'], '<f8': [Float64Array, 'float64'],
  '|u1': [Uint8Array, 'uint8'], '|i1': [Int8Array, 'int8'],
  '<u2': [Uint16Array, 'uint16'], '<i2': [Int16Array, 'int16'],
  '<i4': [Int32Array, 'int32'], '<u4': [Uint32Array, 'uint32'],
  '<i8': [BigInt64Array, 'int64'], '<u8': [BigUint64Array, 'uint64'],
  '|b1': [Uint8Array, 'bool'],
};
const NPY_DESCR = Object.fromEntries(Object.entries(NPY_TYPES).map(([d, t]) => [t[1], d]));

// { dims, type (onnxruntime's name), data (a typed array of its own, aligned) }
function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: unsupported header ${header}`);
  const type = NPY_TYPES[descr[1]];
  if (!type) throw new Error(`${file}: element type ${descr[1]} is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(n * type[0].BYTES_PER_ELEMENT);
  if (buf.length - start - hlen < bytes.length) throw new Error(`${file}: truncated: ${dims} needs ${bytes.length} bytes`);
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

module.exports = { readNpy, writeNpy };
