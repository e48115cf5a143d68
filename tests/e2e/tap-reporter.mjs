// Flat TAP reporter for node:test, made for automake's tap-driver.sh.
//
// node's own TAP reporter nests subtests as indented TAP, which tap-driver.sh
// does not understand. This reporter prints one line per leaf test:
//
//   ok 1 - socketio-client.test.mjs > default transports > upgrades
//   not ok 2 - gateway.test.mjs > health > counts connections
//   # <error message and stack>
//   ok 3 - ... # SKIP reason
//   1..3
//
// Everything else (diagnostics, the test files' stdout/stderr, the servers'
// logs that the helpers forward) is printed as "# " comment lines, so that
// nothing but test lines and the plan starts at column 0.
//
// A suite gets a line of its own only when it failed for a reason of its own
// (a failing before/after hook, say), not when it failed because one of its
// tests did: that test already has a "not ok" line. A test file that failed
// outside of any test (it could not be loaded, it crashed) gets a line too.
//
// Usage: node --test --test-reporter=./tap-reporter.mjs \
//                    --test-reporter-destination=stdout FILES...

import path from 'node:path';

function clean(text) {
  // A '#' in a description would start a TAP directive; a newline would end
  // the line. Neither belongs in a test name.
  return String(text).replace(/[\r\n]+/g, ' ').replace(/#/g, '\uff03').trim();
}

function comment(text) {
  const lines = String(text).replace(/\r/g, '').split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l === '' ? '#' : `# ${l}`)).join('\n') + '\n';
}

function describeError(err) {
  if (err === undefined || err === null) return 'failed (no error given)';
  const parts = [];
  const seen = new Set();
  let e = err;
  // node:test wraps the thrown error: { code: 'ERR_TEST_FAILURE',
  // failureType, cause: <the real error> }. Show the wrapper's message only
  // when it says something the cause does not (a timeout, a hook failure).
  for (let depth = 0; e && depth < 4 && !seen.has(e); depth++) {
    seen.add(e);
    if (typeof e !== 'object') {
      if (!parts.some((p) => p.endsWith(String(e)))) parts.push(String(e));
      break;
    }
    const isWrapper = e.code === 'ERR_TEST_FAILURE';
    if (isWrapper) {
      if (e.failureType && e.failureType !== 'testCodeFailure') {
        parts.push(`${e.failureType}: ${e.message}`);
      } else if (!e.cause) {
        parts.push(e.message);
      }
    } else {
      const stack = typeof e.stack === 'string'
        ? e.stack.split('\n').filter((l) => !/\(node:internal\/|^\s+at node:internal\//.test(l)).join('\n')
        : '';
      const msg = e.message !== undefined ? String(e.message) : String(e);
      if (stack && stack.includes(msg)) parts.push(stack);
      else if (stack) parts.push(`${msg}\n${stack}`);
      else parts.push(msg);
      if ('expected' in e || 'actual' in e) {
        try {
          parts.push(`expected: ${fmt(e.expected)}`);
          parts.push(`actual:   ${fmt(e.actual)}`);
        } catch {
          /* not printable: the message says enough */
        }
      }
    }
    e = e.cause;
  }
  return parts.join('\n');
}

function fmt(v) {
  if (typeof v === 'string') return JSON.stringify(v.length > 2000 ? v.slice(0, 2000) + '...' : v);
  if (Buffer.isBuffer(v)) return `<Buffer ${v.subarray(0, 64).toString('hex')}${v.length > 64 ? '...' : ''}>`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 2000 ? s.slice(0, 2000) + '...' : s;
}

export default async function* tapReporter(source) {
  let n = 0;
  // Names of the tests that are running, by nesting level, per file. node
  // emits test:start for a test just before its result, after its parents'.
  const stacks = new Map();
  const stackOf = (file) => {
    const key = file || '';
    if (!stacks.has(key)) stacks.set(key, []);
    return stacks.get(key);
  };
  const fileLabel = (file) => (file ? path.basename(file) : '(no file)');
  const fullName = (data) => {
    const stack = stackOf(data.file);
    const names = stack.slice(0, data.nesting);
    names.push(data.name);
    return [fileLabel(data.file), ...names].map(clean).join(' > ');
  };
  const isFileLevel = (data) =>
    data.nesting === 0 && data.file && (data.name === data.file || path.resolve(String(data.name)) === data.file);

  for await (const { type, data } of source) {
    switch (type) {
      case 'test:start': {
        const stack = stackOf(data.file);
        stack.length = data.nesting;
        stack[data.nesting] = data.name;
        break;
      }
      case 'test:pass': {
        if (data.details && data.details.type === 'suite') break;
        if (isFileLevel(data)) break; // a file's own pass adds nothing
        n += 1;
        let line = `ok ${n} - ${fullName(data)}`;
        if (data.skip !== undefined && data.skip !== false) {
          line += ` # SKIP${typeof data.skip === 'string' ? ' ' + clean(data.skip) : ''}`;
        } else if (data.todo !== undefined && data.todo !== false) {
          line += ` # TODO${typeof data.todo === 'string' ? ' ' + clean(data.todo) : ''}`;
        }
        yield line + '\n';
        if (data.details && typeof data.details.duration_ms === 'number' && data.details.duration_ms > 5000) {
          yield comment(`slow: ${Math.round(data.details.duration_ms)} ms`);
        }
        break;
      }
      case 'test:fail': {
        const err = data.details && data.details.error;
        if (data.details && data.details.type === 'suite') {
          // Its failing tests have their own lines already.
          if (err && err.failureType === 'subtestsFailed') break;
        }
        n += 1;
        let name;
        if (isFileLevel(data)) name = `${fileLabel(data.file)} (the file itself)`;
        else if (data.details && data.details.type === 'suite') name = `${fullName(data)} (suite)`;
        else name = fullName(data);
        let line = `not ok ${n} - ${name}`;
        if (data.todo !== undefined && data.todo !== false) {
          line += ` # TODO${typeof data.todo === 'string' ? ' ' + clean(data.todo) : ''}`;
        }
        yield line + '\n';
        yield comment(describeError(err));
        break;
      }
      case 'test:diagnostic':
        yield comment(data.message);
        break;
      case 'test:stderr':
      case 'test:stdout':
        yield comment(data.message);
        break;
      default:
        break;
    }
  }
  yield `1..${n}\n`;
}
