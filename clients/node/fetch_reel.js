#!/usr/bin/env node
// Fetches a library's day reel from render_service, the way a Node.js backend would:
// the contracts in protos/ loaded at run time by @grpc/proto-loader, the calls made
// by @grpc/grpc-js (both pinned in package-lock.json; `make node-client` installs them).
//
//   node clients/node/fetch_reel.js --addr 127.0.0.1:50062 --library sample --out day.mp4
//
// 1. ListLibraries: prints each library and its media count.
// 2. GetPrecomputedReel(library, SPAN_DAY, kind): the day reel the nightly pass made.
//    When there is none (NOT_FOUND), makes one: RunPregenNow for that scope (default),
//    or with --create on-demand, CreateReel (at --resolution, e.g. 360p) then
//    WatchReelJob to the end.
// 3. StreamReelVideo into --out, resuming from the bytes already there (read_offset).
// 4. Checks the file's sha256 against the reel's.
// The last line on stdout is one JSON object with what happened; exit 0 when the file
// is complete and its sha256 matches, 3 when it does not, 1 on an RPC error.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const ROOT = path.resolve(__dirname, '..', '..');
const PROTO_DIRS = [path.join(ROOT, 'protos'), path.join(ROOT, 'third_party', 'googleapis')];

function loadPackage() {
  const definition = protoLoader.loadSync(
    ['reels/v1/reel_service.proto', 'reels/v1/reel_admin_service.proto'],
    // keepCase: the proto's own field names (read_offset); int64 as Number (a reel
    // is far below 2^53 bytes); enums by name, as grpcurl shows them.
    { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: PROTO_DIRS },
  );
  return grpc.loadPackageDefinition(definition).reels.v1;
}

function options() {
  const { values } = parseArgs({
    options: {
      addr: { type: 'string', default: process.env.REEL_RENDER_ADDR || '127.0.0.1:50062' },
      library: { type: 'string', default: 'sample' },
      kind: { type: 'string', default: 'REEL_KIND_RECAP' },
      out: { type: 'string' },
      create: { type: 'string', default: 'pregen' },
      resolution: { type: 'string', default: '' },
      token: { type: 'string', default: process.env.REEL_AUTH_TOKEN || '' },
      'admin-token': { type: 'string', default: process.env.REEL_ADMIN_TOKEN || '' },
      'deadline-s': { type: 'string', default: '300' },
    },
  });
  if (!['pregen', 'on-demand'].includes(values.create)) {
    throw new Error(`--create must be pregen or on-demand, not ${values.create}`);
  }
  return values;
}

function metadataWith(token) {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

// A unary call as a promise, with a deadline.
function call(client, method, request, md, deadlineS) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + deadlineS * 1000);
    client[method](request, md, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function dayReel(reels, admin, opts, md, adminMd, deadlineS) {
  const scope = { library: opts.library, span: 'SPAN_DAY', kind: opts.kind };
  try {
    return { reel: (await call(reels, 'GetPrecomputedReel', scope, md, deadlineS)).reel, created: '' };
  } catch (err) {
    if (err.code !== grpc.status.NOT_FOUND) throw err;
    console.error(`no precomputed day reel (${err.details}); creating one (${opts.create})`);
  }
  const requestId = `node-${opts.library}-${crypto.randomUUID()}`;
  if (opts.create === 'pregen') {
    const pass = { libraries: [opts.library], spans: ['SPAN_DAY'], kinds: [opts.kind], request_id: requestId };
    const run = await call(admin, 'RunPregenNow', pass, adminMd, deadlineS);
    for (const o of run.outcomes) console.error(`pregen ${o.library} ${o.span} ${o.kind}: ${o.outcome} ${o.reason}`);
    return { reel: (await call(reels, 'GetPrecomputedReel', scope, md, deadlineS)).reel, created: 'pregen' };
  }
  const options = opts.resolution ? { resolution: opts.resolution } : undefined;
  const created = await call(reels, 'CreateReel', { ...scope, options, request_id: requestId }, md, deadlineS);
  const job = await watch(reels, created.job.job_id, md, deadlineS);
  if (job.state !== 'JOB_STATE_SUCCEEDED') throw new Error(`job ${job.job_id} ended ${job.state} ${job.reason}`);
  return { reel: (await call(reels, 'GetReel', { key: job.reel_key }, md, deadlineS)).reel, created: 'on-demand' };
}

// Follows WatchReelJob to its end; resolves with the job's last state.
function watch(reels, jobId, md, deadlineS) {
  return new Promise((resolve, reject) => {
    let last = null;
    const stream = reels.WatchReelJob({ job_id: jobId }, md, { deadline: new Date(Date.now() + deadlineS * 1000) });
    stream.on('data', (msg) => {
      last = msg.job;
      console.error(`job ${jobId}: ${msg.event.stage} ${Math.round(msg.event.progress * 100)}%`);
    });
    stream.on('error', reject);
    stream.on('end', () => (last ? resolve(last) : reject(new Error('the watch ended with no event'))));
  });
}

// Streams the reel into `out` from the bytes already there; resolves with the offset
// the stream started at.
function download(reels, reel, out, md, deadlineS) {
  let have = fs.existsSync(out) ? fs.statSync(out).size : 0;
  if (have > reel.size_bytes) have = 0; // not a prefix of this reel: start over
  if (have === reel.size_bytes) return Promise.resolve(have);
  const file = fs.openSync(out, have > 0 ? 'r+' : 'w');
  return new Promise((resolve, reject) => {
    let next = have;
    const request = { key: reel.key, read_offset: have, read_limit: 0 };
    const stream = reels.StreamReelVideo(request, md, { deadline: new Date(Date.now() + deadlineS * 1000) });
    stream.on('data', (msg) => {
      if (msg.offset !== next) {
        stream.cancel();
        reject(new Error(`chunk at offset ${msg.offset}, expected ${next}`));
        return;
      }
      fs.writeSync(file, msg.data, 0, msg.data.length, msg.offset);
      next += msg.data.length;
    });
    stream.on('error', (err) => {
      fs.closeSync(file);
      reject(err);
    });
    stream.on('end', () => {
      fs.ftruncateSync(file, next);
      fs.closeSync(file);
      resolve(have);
    });
  });
}

function sha256Of(file) {
  const digest = crypto.createHash('sha256');
  digest.update(fs.readFileSync(file));
  return digest.digest('hex');
}

async function main() {
  const opts = options();
  const deadlineS = Number(opts['deadline-s']);
  const pkg = loadPackage();
  const creds = grpc.credentials.createInsecure();
  const reels = new pkg.ReelService(opts.addr, creds);
  const admin = new pkg.ReelAdminService(opts.addr, creds);
  const md = metadataWith(opts.token);
  const adminMd = metadataWith(opts['admin-token'] || opts.token);

  const libraries = (await call(admin, 'ListLibraries', {}, adminMd, deadlineS)).libraries;
  for (const lib of libraries) console.error(`library ${lib.key}: ${lib.media_count} media`);

  const { reel, created } = await dayReel(reels, admin, opts, md, adminMd, deadlineS);
  const out = opts.out || `${reel.key}.mp4`;
  const resumedFrom = await download(reels, reel, out, md, deadlineS);
  const size = fs.statSync(out).size;
  const sha256 = sha256Of(out);
  const ok = size === reel.size_bytes && sha256 === reel.sha256;
  const result = {
    libraries: libraries.map((lib) => lib.key),
    key: reel.key,
    created,
    out,
    resumed_from: resumedFrom,
    size_bytes: size,
    sha256,
    expected_sha256: reel.sha256,
    ok,
  };
  console.log(JSON.stringify(result));
  for (const s of [reels, admin]) s.close();
  return ok ? 0 : 3;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const status = err.code !== undefined ? ` (${Object.keys(grpc.status).find((k) => grpc.status[k] === err.code)})` : '';
    console.error(`fetch_reel: ${err.details || err.message}${status}`);
    process.exit(1);
  },
);
