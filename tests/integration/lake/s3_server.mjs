// An S3 endpoint for the upload tests: s3rver (npm, tests/node) stores the
// objects, and a gateway in front of it checks what s3rver 3.7.1 does not:
// s3rver checks only that a SigV4 request's access key exists (its
// lib/middleware/authentication.js leaves the signature calculation
// unimplemented), so a wrong secret would pass. The gateway recomputes
// every request's SigV4 signature from the raw request, as S3 does (the
// path decoded and encoded again per segment, the query sorted, the signed
// headers trimmed), with the one key pair it was given, and compares the
// body's SHA-256 with x-amz-content-sha256. A request that fails gets S3's
// error document (403 SignatureDoesNotMatch or InvalidAccessKeyId, 400
// XAmzContentSHA256Mismatch or RequestTimeTooSkewed); one that passes goes
// to s3rver unchanged.
//
// usage: node s3_server.mjs NODE_DIR DIR BUCKET KEY_ID SECRET [--down] [--fail-first N]
//   DIR holds s3rver's files; BUCKET is created at start.
//   --down         answer every PUT 503 ServiceUnavailable until SIGUSR1 (reads
//                  still go, so a test can look at the bucket meanwhile)
//   --fail-first N answer the first N PUTs 503 (then as usual)
// Prints "port N" (the gateway's port, on 127.0.0.1) once both listen, and a
// line per request on stderr. SIGUSR1: up; SIGUSR2: down (PUTs); SIGTERM/SIGINT:
// close both and exit.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeDir, dir, bucket, keyId, secret, ...rest] = process.argv.slice(2);
if (!secret) {
    console.error('usage: s3_server.mjs NODE_DIR DIR BUCKET KEY_ID SECRET [--down] [--fail-first N]');
    process.exit(2);
}
let down = rest.includes('--down');
const ff = rest.indexOf('--fail-first');
let failFirst = ff >= 0 ? Number(rest[ff + 1]) : 0;
const MAX_BODY = 64 << 20;

const require = createRequire(path.join(nodeDir, 'package.json'));
const S3rver = require('s3rver');
// The key pairs s3rver knows: ours only (its built-in S3RVER/S3RVER goes).
const account = require('s3rver/lib/models/account');
account.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
account.DUMMY_ACCOUNT.createKeyPair(keyId, secret);

const hmac = (key, text) => createHmac('sha256', key).update(text).digest();
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// AWS's URI encoding: every byte but A-Z a-z 0-9 - . _ ~ as %XX.
function uriEncode(text, keepSlash) {
    let out = '';
    for (const b of Buffer.from(text, 'utf8')) {
        const c = String.fromCharCode(b);
        if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
        else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    return out;
}

function canonicalQuery(raw) {
    if (!raw) return '';
    return raw
        .split('&')
        .filter((p) => p !== '')
        .map((p) => {
            const i = p.indexOf('=');
            const k = decodeURIComponent(i < 0 ? p : p.slice(0, i));
            const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1));
            return [uriEncode(k, false), uriEncode(v, false)];
        })
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join('&');
}

function s3Error(res, status, code, message) {
    const body =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}

// null when the request is signed right; else [status, code, message].
function verify(req, body) {
    const auth = req.headers.authorization || '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;.\-_~]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
    );
    if (!m) return [403, 'AccessDenied', 'No valid SigV4 Authorization header'];
    const [, id, date8, region, signedList, signature] = m;
    if (id !== keyId) return [403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
    const amzDate = req.headers['x-amz-date'] || '';
    if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date8)
        return [403, 'AccessDenied', 'x-amz-date is missing or does not match the credential scope'];
    const when = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
        +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
    if (Math.abs(Date.now() - when) > 15 * 60 * 1000)
        return [403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'];
    const signed = signedList.split(';');
    for (const need of ['host', 'x-amz-date', 'x-amz-content-sha256'])
        if (!signed.includes(need)) return [403, 'AccessDenied', `${need} is not signed`];
    const payload = req.headers['x-amz-content-sha256'];
    if (payload !== sha256(body))
        return [400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."];
    const q = req.url.indexOf('?');
    const rawPath = q < 0 ? req.url : req.url.slice(0, q);
    const uri = rawPath
        .split('/')
        .map((seg) => uriEncode(decodeURIComponent(seg), false))
        .join('/');
    const headers = signed
        .map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/[ \t]+/g, ' ')}\n`)
        .join('');
    const creq = [req.method, uri, canonicalQuery(q < 0 ? '' : req.url.slice(q + 1)), headers, signedList, payload].join('\n');
    const scope = `${date8}/${region}/s3/aws4_request`;
    const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
    let k = hmac('AWS4' + secret, date8);
    k = hmac(k, region);
    k = hmac(k, 's3');
    k = hmac(k, 'aws4_request');
    if (hmac(k, sts).toString('hex') !== signature)
        return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
    return null;
}

const store = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
});
const backend = await store.run();

const gateway = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy();
        else chunks.push(c);
    });
    req.on('end', () => {
        const body = Buffer.concat(chunks);
        const line = `${req.method} ${req.url}`;
        if (req.method === 'PUT' && (down || failFirst > 0)) {
            if (!down) failFirst--;
            console.error(`${line} -> 503 (injected)`);
            return s3Error(res, 503, 'ServiceUnavailable', 'Please reduce your request rate.');
        }
        const bad = verify(req, body);
        if (bad) {
            console.error(`${line} -> ${bad[0]} ${bad[1]}`);
            return s3Error(res, ...bad);
        }
        const fwd = http.request(
            { host: '127.0.0.1', port: backend.port, method: req.method, path: req.url, headers: req.headers },
            (up) => {
                console.error(`${line} -> ${up.statusCode}`);
                res.writeHead(up.statusCode, up.headers);
                up.pipe(res);
            },
        );
        fwd.on('error', (e) => s3Error(res, 502, 'BadGateway', e.message));
        fwd.end(body);
    });
});
gateway.listen(0, '127.0.0.1', () => {
    console.log(`port ${gateway.address().port}`);
});

process.on('SIGUSR1', () => {
    down = false;
    console.error('up');
});
process.on('SIGUSR2', () => {
    down = true;
    console.error('down');
});
const stop = () => {
    gateway.close();
    gateway.closeAllConnections?.();
    store.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
