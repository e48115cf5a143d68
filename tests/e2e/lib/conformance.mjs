// Shared settings for the tests that run conformance-server.

import { binaryFromEnv, skipReason } from './server.mjs';

export const CONFORMANCE_SERVER = binaryFromEnv('CONFORMANCE_SERVER');
export const CONFORMANCE_SKIP = skipReason('CONFORMANCE_SERVER');

// The settings both protocol specs give for running their test suites.
export const PING_INTERVAL_MS = 300;
export const PING_TIMEOUT_MS = 200;
export const CONNECT_TIMEOUT_MS = 1000;
export const MAX_PAYLOAD = 1000000;

export const SPEC_ARGS = [
  `PING_INTERVAL_MS=${PING_INTERVAL_MS}`,
  `PING_TIMEOUT_MS=${PING_TIMEOUT_MS}`,
  `CONNECT_TIMEOUT_MS=${CONNECT_TIMEOUT_MS}`,
  `MAX_PAYLOAD=${MAX_PAYLOAD}`,
  'ALLOWED_ORIGINS=*',
  // The protocol suites expect a server without connection state
  // recovery (no pid, no offsets); tests/e2e/recovery.test.mjs has it.
  'RECOVERY_WINDOW_MS=0',
];

// Extra time allowed on top of a deadline from the spec: the server may be a
// sanitizer build on a busy two-core machine.
export const SLACK_MS = 700;
