'use strict';
// broker.js - start and stop strata's Kafka broker from a node test; the
// JavaScript twin of ../brokerctl.py.
//
// The broker listens on 127.0.0.1 with a port the kernel picks, in a
// temporary data folder under $TMPDIR; its stderr goes to a file that
// logs() returns for failure messages. It is always stopped: by stop() or
// close() from the test's after() hook, by a process 'exit' handler, and,
// should the node process be killed (a CTest timeout), by the parent-death
// signal that setpriv sets before exec'ing the broker.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const START_TIMEOUT_MS = 60000; // liveness bounds, not assertions on speed
const STOP_TIMEOUT_MS = 60000;
const LISTEN_RE = /^strata broker listening on 127\.0\.0\.1:(\d+)\n/m;

const live = new Set();
process.on('exit', () => {
  for (const b of live) b.killNow();
});

const HAVE_SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

class Broker {
  constructor(strata, { defaultPartitions } = {}) {
    if (!strata) throw new Error('set STRATA_BIN to the strata binary');
    fs.accessSync(strata, fs.constants.X_OK);
    this.strata = path.resolve(strata);
    this.defaultPartitions = defaultPartitions;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-kafkajs-'));
    this.data = path.join(this.tmp, 'data');
    this.proc = null;
    this.port = null;
    this.runs = 0;
    this.stdout = '';
  }

  get bootstrap() {
    if (this.port === null) throw new Error('the broker is not running');
    return `127.0.0.1:${this.port}`;
  }

  async start() {
    if (this.proc) throw new Error('broker started twice');
    this.runs += 1;
    let args = ['broker', '--listen', '127.0.0.1:0', '--data', this.data];
    if (this.defaultPartitions !== undefined) {
      args.push('--default-partitions', String(this.defaultPartitions));
    }
    let cmd = this.strata;
    if (HAVE_SETPRIV) {
      args = ['--pdeathsig', 'TERM', '--', this.strata, ...args];
      cmd = 'setpriv';
    }
    const errFd = fs.openSync(this.stderrPath(this.runs), 'w');
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', errFd] });
    fs.closeSync(errFd);
    this.proc = proc;
    this.stdout = '';
    live.add(this);
    proc.exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (s) => {
      this.stdout += s;
    });
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.killNow();
        reject(new Error(`no 'listening on' line within ${START_TIMEOUT_MS} ms\n${this.logs()}`));
      }, START_TIMEOUT_MS);
      const onData = () => {
        const m = LISTEN_RE.exec(this.stdout);
        if (m) {
          clearTimeout(timer);
          proc.stdout.off('data', onData);
          resolve(Number(m[1]));
        }
      };
      proc.stdout.on('data', onData);
      proc.exited.then(({ code, sig }) => {
        clearTimeout(timer);
        reject(new Error(`broker exited (${code ?? sig}) before listening\n${this.logs()}`));
      });
    });
    this.port = port;
    return this;
  }

  // SIGTERM; fails unless the broker exits 0 and printed exactly one line.
  async stop() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    this.port = null;
    proc.kill('SIGTERM');
    const timeout = new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), STOP_TIMEOUT_MS);
      t.unref();
    });
    const res = await Promise.race([proc.exited, timeout]);
    live.delete(this);
    if (res === null) {
      proc.kill('SIGKILL');
      throw new Error(`broker did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n` +
                      this.logs());
    }
    if (res.code !== 0) {
      throw new Error(`broker exited ${res.code ?? res.sig} after SIGTERM, expected 0\n` +
                      this.logs());
    }
    if (!/^strata broker listening on 127\.0\.0\.1:\d+\n$/.test(this.stdout)) {
      throw new Error("broker stdout should be exactly one 'listening on' line: " +
                      JSON.stringify(this.stdout));
    }
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  killNow() {
    if (this.proc) {
      try {
        this.proc.kill('SIGKILL');
      } catch (e) {
        // already gone
      }
      this.proc = null;
      this.port = null;
    }
    live.delete(this);
  }

  // Stops the broker however it must and removes the temporary folder.
  async close() {
    if (this.proc) {
      const proc = this.proc;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await proc.exited;
      clearTimeout(t);
      this.proc = null;
      live.delete(this);
    }
    if (process.env.STRATA_KEEP_TMP) {
      process.stderr.write(`broker.js: kept ${this.tmp}\n`);
    } else {
      fs.rmSync(this.tmp, { recursive: true, force: true });
    }
  }

  stderrPath(run) {
    return path.join(this.tmp, `stderr.${run}`);
  }

  // The tail of every run's stderr, for failure messages.
  logs() {
    let out = '';
    for (let run = 1; run <= this.runs; run++) {
      let text = '';
      try {
        text = fs.readFileSync(this.stderrPath(run), 'utf8');
      } catch (e) {
        continue;
      }
      out += `----- broker run ${run} stderr -----\n${text.slice(-6000)}\n`;
    }
    return out;
  }
}

module.exports = { Broker };
