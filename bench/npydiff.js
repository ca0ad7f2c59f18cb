#!/usr/bin/env node
// bench/npydiff.js — checks that two runtimes agree before their timings
// are compared.
//
//   node npydiff.js A.npy B.npy [A2.npy B2.npy]...
//
// For each pair (A: onnxcc's output, B: ONNX Runtime's) checks dtype and
// shape and computes max |A - B| and max |B|.  Prints one line per pair and
// a last line "maxabs X maxref Y": X the largest difference over all pairs,
// Y the largest |B|.  The pair agrees when X <= 1e-4 * max(|B|), the
// tolerance tests/models/e2e.sh uses against PyTorch; NaN in the same place
// in both counts as equal, a NaN in one only as a mismatch.
// Exit status: 0 all pairs agree, 1 a mismatch, 2 usage or unreadable file.
'use strict';

const { npyRead } = require('./npy.js');

// halfToNumber(h): the value of the IEEE binary16 bit pattern h.
function halfToNumber(h) {
	const sign = h & 0x8000 ? -1 : 1;
	const e = (h >> 10) & 0x1f, m = h & 0x3ff;
	if (e === 0)
		return sign * m * Math.pow(2, -24);
	if (e === 31)
		return m ? NaN : sign * Infinity;
	return sign * (1 + m / 1024) * Math.pow(2, e - 15);
}

// val(arr, i): element i of an npyRead() array as a Number.
function val(arr, i) {
	return arr.type === 'float16' ? halfToNumber(arr.data[i]) : Number(arr.data[i]);
}

function main(argv) {
	if (argv.length === 0 || argv.length % 2 !== 0) {
		process.stderr.write('usage: node npydiff.js A.npy B.npy [A2.npy B2.npy]...\n');
		return 2;
	}
	let worst = 0, maxref = 0, ok = true;
	for (let p = 0; p < argv.length; p += 2) {
		let a, b;
		try {
			a = npyRead(argv[p]);
			b = npyRead(argv[p + 1]);
		} catch (e) {
			process.stderr.write('npydiff: ' + e.message + '\n');
			return 2;
		}
		const tag = argv[p] + ' vs ' + argv[p + 1];
		if (a.type !== b.type || a.dims.join(',') !== b.dims.join(',')) {
			console.log(tag + ': MISMATCH ' + a.type + '[' + a.dims + '] vs ' +
				b.type + '[' + b.dims + ']');
			ok = false;
			worst = Infinity;
			continue;
		}
		let d = 0, r = 0, nanbad = 0;
		for (let i = 0; i < a.data.length; i++) {
			const x = val(a, i), y = val(b, i);
			if (Number.isNaN(x) || Number.isNaN(y)) {
				if (Number.isNaN(x) !== Number.isNaN(y))
					nanbad++;
				continue;
			}
			if (x === y) {
				r = Math.max(r, Math.abs(y));
				continue;
			}
			d = Math.max(d, Math.abs(x - y));   // Inf - finite is Inf: a mismatch
			r = Math.max(r, Math.abs(y));
		}
		const good = nanbad === 0 && !(d > 1e-4 * r);
		console.log(tag + ': max abs diff ' + d.toPrecision(3) + ', max |ref| ' +
			r.toPrecision(4) + (nanbad ? ', ' + nanbad + ' NaN mismatches' : '') +
			(good ? ' ok' : ' MISMATCH'));
		if (!good)
			ok = false;
		worst = Math.max(worst, nanbad ? Infinity : d);
		maxref = Math.max(maxref, r);
	}
	console.log('maxabs ' + worst.toPrecision(3) + ' maxref ' + maxref.toPrecision(4));
	return ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
