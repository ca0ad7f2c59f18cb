// bench/npy.js — a minimal .npy reader and writer for the benchmark scripts
// (little-endian, C order; the dtypes ONNX models use).  No dependencies.
//   npyRead(file)          -> {type, dims, data}  (type: ONNX Runtime name)
//   npyWrite(file, tensor) writes {type, dims, data} (an ORT Tensor fits)
// Both throw an Error naming the file on bad or unsupported data.
'use strict';

const fs = require('fs');

// .npy descr (without the byte-order character) <-> ONNX Runtime tensor type
// and the typed array that holds it.
const NPY_TYPES = {
	f4: { ort: 'float32', arr: Float32Array },
	f8: { ort: 'float64', arr: Float64Array },
	f2: { ort: 'float16', arr: Uint16Array },
	i1: { ort: 'int8', arr: Int8Array },
	i2: { ort: 'int16', arr: Int16Array },
	i4: { ort: 'int32', arr: Int32Array },
	i8: { ort: 'int64', arr: BigInt64Array },
	u1: { ort: 'uint8', arr: Uint8Array },
	u2: { ort: 'uint16', arr: Uint16Array },
	u4: { ort: 'uint32', arr: Uint32Array },
	u8: { ort: 'uint64', arr: BigUint64Array },
	b1: { ort: 'bool', arr: Uint8Array },
};

// npyRead(file) -> {type, dims, data}: parses a .npy file (format 1.0, 2.0
// or 3.0) holding a little-endian (or byte-order-free) C-order array.
// Throws an Error naming the file on anything else.
function npyRead(file) {
	const buf = fs.readFileSync(file);
	const bad = (why) => new Error(file + ': ' + why);
	if (buf.length < 10 || buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY')
		throw bad('not a .npy file (bad magic)');
	const major = buf[6];
	let hlen, hstart;
	if (major === 1) {
		hlen = buf.readUInt16LE(8);
		hstart = 10;
	} else if (major === 2 || major === 3) {
		if (buf.length < 12)
			throw bad('truncated header');
		hlen = buf.readUInt32LE(8);
		hstart = 12;
	} else {
		throw bad('unsupported .npy version ' + major);
	}
	if (hstart + hlen > buf.length)
		throw bad('truncated header');
	const header = buf.toString(major === 3 ? 'utf8' : 'latin1', hstart, hstart + hlen);
	const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
	const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
	const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
	if (!descr || !fortran || !shape)
		throw bad('header lacks descr, fortran_order or shape: ' + header.trim());
	if (fortran[1] === 'True')
		throw bad('Fortran-order arrays are not supported');
	const d = descr[1];
	if (d.length < 2 || '<|='.indexOf(d[0]) < 0)
		throw bad("unsupported dtype '" + d + "' (little-endian only)");
	const t = NPY_TYPES[d.slice(1)];
	if (!t)
		throw bad("unsupported dtype '" + d + "'");
	const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0)
		.map((s) => {
			if (!/^\d+L?$/.test(s))
				throw bad("bad shape entry '" + s + "'");
			return parseInt(s, 10);
		});
	const numel = dims.reduce((a, b) => a * b, 1);
	const off = hstart + hlen;
	const nbytes = numel * t.arr.BYTES_PER_ELEMENT;
	if (buf.length - off < nbytes)
		throw bad('data has ' + (buf.length - off) + ' bytes, shape needs ' + nbytes);
	// Copy into a fresh, aligned buffer (the file's data offset need not be
	// aligned for the element size).
	const ab = new ArrayBuffer(nbytes);
	new Uint8Array(ab).set(buf.subarray(off, off + nbytes));
	return { type: t.ort, dims: dims, data: new t.arr(ab) };
}

// npyWrite(file, tensor): writes an onnxruntime Tensor as a version 1.0
// .npy file (little-endian, C order).
function npyWrite(file, tensor) {
	let code = null;
	for (const k of Object.keys(NPY_TYPES))
		if (NPY_TYPES[k].ort === tensor.type)
			code = k;
	if (code === null)
		throw new Error(file + ': cannot write tensor type ' + tensor.type);
	const order = code === 'b1' || code === 'i1' || code === 'u1' ? '|' : '<';
	const dims = tensor.dims.map(Number);
	const shp = dims.length === 1 ? '(' + dims[0] + ',)' : '(' + dims.join(', ') + ')';
	let header = "{'descr': '" + order + code + "', 'fortran_order': False, 'shape': " + shp + ', }';
	// Pad so that magic(6) + version(2) + len(2) + header + '\n' is a
	// multiple of 64, as NumPy does.
	const total = Math.ceil((10 + header.length + 1) / 64) * 64;
	header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
	const pre = Buffer.alloc(10);
	pre[0] = 0x93;
	pre.write('NUMPY', 1, 'latin1');
	pre[6] = 1;
	pre[7] = 0;
	pre.writeUInt16LE(header.length, 8);
	const d = tensor.data;
	const body = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
	fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

module.exports = { npyRead, npyWrite, NPY_TYPES };
