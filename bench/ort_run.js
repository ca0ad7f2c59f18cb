#!/usr/bin/env node
// bench/ort_run.js — times ONNX Runtime (onnxruntime-node, CPU execution
// provider) on one model, the counterpart of `onnxcc-run --repeat N`.
//
//   node ort_run.js MODEL.onnx [--input NAME=FILE.npy]... [--repeat N]
//                   [--warmup W] [--threads T] [--output-dir DIR] [--quiet]
//
// Every model input must be given as a little-endian C-order .npy file
// (float32/float64/float16, int8/16/32/64, uint8/16/32/64, bool).  The
// session is created with the CPU EP, intraOpNumThreads = T (default 1, as
// onnxcc's generated code is single-threaded), interOpNumThreads = 1,
// sequential execution and all graph optimisations.  W warm-up runs
// (default 1, like onnxcc-run's first run) are not timed; then N runs
// (default 10) are timed one by one with a monotonic clock around
// session.run().  The last line on stdout is one JSON object:
//   {"median_ms": M, "min_ms": m, "runs": N}
// With --output-dir the outputs of the first run are written there as
// NAME.npy, for a cross-check against onnxcc's.
// Exit status: 0 ok, 1 usage or input error, 2 ONNX Runtime failed.
'use strict';

const fs = require('fs');
const path = require('path');

const EXIT_USAGE = 1;
const EXIT_ORT = 2;

function die(code, msg) {
	process.stderr.write('ort_run: ' + msg + '\n');
	process.exit(code);
}

const { npyRead, npyWrite } = require('./npy.js');

function parseCount(opt, s, min) {
	if (!/^\d+$/.test(s) || parseInt(s, 10) < min)
		die(EXIT_USAGE, opt + ' expects a count >= ' + min + ", got '" + s + "'");
	return parseInt(s, 10);
}

function parseArgs(argv) {
	const o = { model: null, inputs: [], repeat: 10, warmup: 1, threads: 1, outdir: null, quiet: false };
	for (let i = 0; i < argv.length; i++) {
		let a = argv[i];
		let val = null;
		const eq = a.indexOf('=');
		if (a.startsWith('--') && eq > 0) {
			val = a.slice(eq + 1);
			a = a.slice(0, eq);
		}
		const need = () => {
			if (val !== null)
				return val;
			if (i + 1 >= argv.length)
				die(EXIT_USAGE, a + ' needs a value');
			return argv[++i];
		};
		if (a === '--input') {
			const v = need();
			const k = v.indexOf('=');
			if (k <= 0)
				die(EXIT_USAGE, "--input expects NAME=FILE.npy, got '" + v + "'");
			o.inputs.push({ name: v.slice(0, k), file: v.slice(k + 1) });
		} else if (a === '--repeat') {
			o.repeat = parseCount(a, need(), 1);
		} else if (a === '--warmup') {
			o.warmup = parseCount(a, need(), 0);
		} else if (a === '--threads') {
			o.threads = parseCount(a, need(), 1);
		} else if (a === '--output-dir') {
			o.outdir = need();
		} else if (a === '--quiet' || a === '-q') {
			o.quiet = true;
		} else if (a === '--help' || a === '-h') {
			process.stdout.write('usage: node ort_run.js MODEL.onnx [--input NAME=FILE.npy]... ' +
				'[--repeat N] [--warmup W] [--threads T] [--output-dir DIR] [--quiet]\n');
			process.exit(0);
		} else if (a.startsWith('-')) {
			die(EXIT_USAGE, "unknown option '" + a + "'");
		} else if (o.model === null) {
			o.model = a;
		} else {
			die(EXIT_USAGE, "unexpected argument '" + a + "' (one model only)");
		}
	}
	if (o.model === null)
		die(EXIT_USAGE, 'no model given (--help for usage)');
	return o;
}

function nowMs() {
	return Number(process.hrtime.bigint()) / 1e6;
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	let ort;
	try {
		ort = require('onnxruntime-node');
	} catch (e) {
		die(EXIT_USAGE, 'cannot load onnxruntime-node (run `npm install --ignore-scripts` in ' +
			__dirname + '): ' + e.message);
	}
	let session;
	try {
		session = await ort.InferenceSession.create(o.model, {
			executionProviders: ['cpu'],
			intraOpNumThreads: o.threads,
			interOpNumThreads: 1,
			executionMode: 'sequential',
			graphOptimizationLevel: 'all',
		});
	} catch (e) {
		die(EXIT_ORT, o.model + ': cannot create a session: ' + e.message);
	}
	const feeds = {};
	for (const inp of o.inputs) {
		if (session.inputNames.indexOf(inp.name) < 0)
			die(EXIT_USAGE, '--input ' + inp.name + ': the model has no input named \'' + inp.name + '\' (inputs: ' +
				session.inputNames.join(', ') + ')');
		let a;
		try {
			a = npyRead(inp.file);
		} catch (e) {
			die(EXIT_USAGE, e.message);
		}
		feeds[inp.name] = new ort.Tensor(a.type, a.data, a.dims);
	}
	for (const n of session.inputNames)
		if (!(n in feeds))
			die(EXIT_USAGE, "input '" + n + "' not given (--input " + n + '=FILE.npy)');

	let first = null;
	try {
		for (let w = 0; w < o.warmup; w++) {
			const r = await session.run(feeds);
			if (first === null)
				first = r;
		}
		const times = [];
		for (let r = 0; r < o.repeat; r++) {
			const t0 = nowMs();
			const res = await session.run(feeds);
			times.push(nowMs() - t0);
			if (first === null)
				first = res;
		}
		times.sort((a, b) => a - b);
		const n = times.length;
		const med = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
		if (o.outdir !== null) {
			fs.mkdirSync(o.outdir, { recursive: true });
			for (const name of session.outputNames)
				npyWrite(path.join(o.outdir, name + '.npy'), first[name]);
		}
		if (!o.quiet)
			for (const name of session.outputNames)
				process.stdout.write(name + ': ' + first[name].type + '[' +
					first[name].dims.join(',') + ']\n');
		process.stdout.write(JSON.stringify({
			median_ms: Number(med.toPrecision(6)),
			min_ms: Number(times[0].toPrecision(6)),
			runs: n,
		}) + '\n');
	} catch (e) {
		die(EXIT_ORT, o.model + ': run failed: ' + e.message);
	}
}

main();
