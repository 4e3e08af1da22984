// Checks a bucket of s3_server.mjs against a lake, with requests signed
// here (SigV4, path-style, written from AWS's description independently of
// strata's C code).
//
// usage:
//   node s3_check.mjs list    ENDPOINT BUCKET KEY_ID SECRET PREFIX
//       prints the keys under PREFIX (ListObjectsV2, every page)
//   node s3_check.mjs compare ENDPOINT BUCKET KEY_ID SECRET PREFIX LAKE TOPIC [WAIT_S]
//       every .parquet file and _SUCCESS marker under LAKE/TOPIC/date=*/hour=*
//       must be in the bucket as PREFIX/TOPIC/<its path>, with the same bytes
//       (GET, SHA-256), and the bucket must hold nothing else under
//       PREFIX/TOPIC/; tried again until WAIT_S seconds have passed
//   node s3_check.mjs object  ENDPOINT BUCKET KEY_ID SECRET KEY FILE
//       GET KEY must give FILE's bytes
//   node s3_check.mjs selftest ENDPOINT BUCKET KEY_ID SECRET
//       the gateway refuses a PUT signed with a wrong secret (403
//       SignatureDoesNotMatch), one whose body does not match its
//       x-amz-content-sha256 (400), and one with an unknown key id (403);
//       takes a right one and serves it back; then deletes it
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const hmac = (key, text) => createHmac('sha256', key).update(text).digest();
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const enc = (s, slash) =>
    [...Buffer.from(s, 'utf8')]
        .map((b) => {
            const c = String.fromCharCode(b);
            return /[A-Za-z0-9\-._~]/.test(c) || (slash && c === '/') ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
        })
        .join('');

// One signed request; resolves to {status, body (Buffer)}.
function request({ endpoint, keyId, secret, method, key, bucket, query = {}, body = Buffer.alloc(0), hash }) {
    const url = new URL(endpoint);
    const pathPart = '/' + bucket + (key !== undefined ? '/' + enc(key, true) : '');
    const qs = Object.entries(query)
        .map(([k, v]) => [enc(k, false), enc(String(v), false)])
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join('&');
    const now = new Date();
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const date8 = amzDate.slice(0, 8);
    const payload = hash ?? sha256(body);
    const headers = { host: url.host, 'x-amz-content-sha256': payload, 'x-amz-date': amzDate };
    const names = Object.keys(headers).sort();
    const creq = [method, pathPart, qs, names.map((n) => `${n}:${headers[n]}\n`).join(''), names.join(';'), payload].join('\n');
    const scope = `${date8}/us-east-1/s3/aws4_request`;
    const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
    let k = hmac('AWS4' + secret, date8);
    for (const part of ['us-east-1', 's3', 'aws4_request']) k = hmac(k, part);
    const sig = hmac(k, sts).toString('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${keyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`;
    headers['content-length'] = body.length;
    return new Promise((resolve, reject) => {
        const req = http.request(
            { host: url.hostname, port: url.port, method, path: pathPart + (qs ? '?' + qs : ''), headers },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
            },
        );
        req.on('error', reject);
        req.end(body);
    });
}

const unxml = (s) =>
    s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;|&apos;/g, "'").replace(/&amp;/g, '&');

async function list(conn, prefix) {
    const keys = new Map(); // key -> size
    let token;
    for (;;) {
        const query = { 'list-type': 2, prefix };
        if (token) query['continuation-token'] = token;
        const r = await request({ ...conn, method: 'GET', query });
        if (r.status !== 200) throw new Error(`ListObjectsV2: HTTP ${r.status}: ${r.body}`);
        const xml = r.body.toString();
        for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
            const key = unxml(/<Key>([\s\S]*?)<\/Key>/.exec(m[1])[1]);
            keys.set(key, Number(/<Size>(\d+)<\/Size>/.exec(m[1])[1]));
        }
        const next = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml);
        if (!/<IsTruncated>true<\/IsTruncated>/.test(xml) || !next) break;
        token = unxml(next[1]);
    }
    return keys;
}

function localFiles(lake, topic) {
    const out = [];
    const top = path.join(lake, topic);
    for (const d of fs.existsSync(top) ? fs.readdirSync(top).sort() : []) {
        if (!d.startsWith('date=')) continue;
        for (const h of fs.readdirSync(path.join(top, d)).sort()) {
            if (!h.startsWith('hour=')) continue;
            for (const f of fs.readdirSync(path.join(top, d, h)).sort())
                if (f.endsWith('.parquet') || f === '_SUCCESS') out.push(`${d}/${h}/${f}`);
        }
    }
    return out;
}

// The differences between the lake and the bucket; [] when they agree.
async function differences(conn, prefix, lake, topic) {
    const base = (prefix ? prefix + '/' : '') + topic + '/';
    const keys = await list(conn, base);
    const files = localFiles(lake, topic);
    const problems = [];
    for (const rel of files) {
        const key = base + rel;
        const bytes = fs.readFileSync(path.join(lake, topic, rel));
        if (!keys.has(key)) {
            problems.push(`missing: ${key}`);
            continue;
        }
        const got = await request({ ...conn, method: 'GET', key });
        if (got.status !== 200) problems.push(`GET ${key}: HTTP ${got.status}`);
        else if (sha256(got.body) !== sha256(bytes)) problems.push(`different bytes: ${key}`);
        keys.delete(key);
    }
    for (const key of keys.keys()) problems.push(`not in the lake: ${key}`);
    return { problems, files: files.length };
}

async function selftest(conn) {
    const body = Buffer.from('selftest body');
    const key = 'selftest/object';
    const expect = async (what, r, status, code) => {
        const text = r.body.toString();
        if (r.status !== status || (code && !text.includes(`<Code>${code}</Code>`)))
            throw new Error(`${what}: expected ${status} ${code ?? ''}, got ${r.status} ${text}`);
    };
    await expect('wrong secret', await request({ ...conn, secret: conn.secret + 'x', method: 'PUT', key, body }), 403, 'SignatureDoesNotMatch');
    await expect('wrong payload hash', await request({ ...conn, method: 'PUT', key, body, hash: sha256('other') }), 400, 'XAmzContentSHA256Mismatch');
    await expect('unknown key id', await request({ ...conn, keyId: 'NOBODY', method: 'PUT', key, body }), 403, 'InvalidAccessKeyId');
    await expect('right secret', await request({ ...conn, method: 'PUT', key, body }), 200);
    const got = await request({ ...conn, method: 'GET', key });
    await expect('GET', got, 200);
    if (!got.body.equals(body)) throw new Error('GET: different bytes');
    await expect('DELETE', await request({ ...conn, method: 'DELETE', key }), 204);
}

const [mode, endpoint, bucket, keyId, secret, prefix, lake, topic, wait] = process.argv.slice(2);
const conn = { endpoint, bucket, keyId, secret };
try {
    if (mode === 'list') {
        for (const k of (await list(conn, prefix ?? '')).keys()) console.log(k);
    } else if (mode === 'compare') {
        const until = Date.now() + Number(wait ?? 0) * 1000;
        for (;;) {
            // s3rver can fail a listing that races a PUT (HTTP 500): that
            // is a difference to look at again, not the end.
            const { problems, files } = await differences(conn, prefix, lake, topic).catch((e) => ({
                problems: [e.message],
                files: 0,
            }));
            if (problems.length === 0) {
                console.log(`compare: ${files} files, all in the bucket with the same bytes`);
                break;
            }
            if (Date.now() >= until) {
                console.log(`FAIL: the bucket differs from ${lake}/${topic} (${files} local files):`);
                for (const p of problems.slice(0, 20)) console.log('  ' + p);
                process.exit(1);
            }
            await new Promise((r) => setTimeout(r, 200));
        }
    } else if (mode === 'object') {
        const [key, file] = [prefix, lake];
        const got = await request({ ...conn, method: 'GET', key });
        if (got.status !== 200) throw new Error(`GET ${key}: HTTP ${got.status}`);
        if (!got.body.equals(fs.readFileSync(file))) throw new Error(`GET ${key}: not the bytes of ${file}`);
    } else if (mode === 'selftest') {
        await selftest(conn);
        console.log('selftest: the gateway refuses wrong signatures and hashes');
    } else {
        console.error('usage: see the comment at the top of s3_check.mjs');
        process.exit(2);
    }
} catch (e) {
    console.log(`FAIL: ${e.message}`);
    process.exit(1);
}
