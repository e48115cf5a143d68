// proc.mjs - what the tests read of the gateway's room processes in /proc:
// its children, their command lines and states, and which one serves a
// room ("coup-roomd video:x"; a spare writes the room's name over its own
// padded arguments, so a name may also be one word of an argument).

import { readFileSync, readdirSync } from 'node:fs';

/** /proc/<pid>/<file> as text, or null when the process is gone. */
export function readProc(pid, file) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** The children of `pid` (all its threads'), from /proc/<pid>/task/<tid>/children. */
export function childrenOf(pid) {
  const out = new Set();
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tids) {
    const s = readProc(pid, `task/${tid}/children`);
    if (s) for (const c of s.trim().split(/\s+/).filter(Boolean)) out.add(Number(c));
  }
  return [...out];
}

/** The arguments of `pid` (empty ones dropped), or null when it is gone. */
export function cmdline(pid) {
  const s = readProc(pid, 'cmdline');
  return s === null ? null : s.split('\0').filter(Boolean);
}

/** State letter of a process (R, S, Z, ...), or null when it is gone. */
export function procState(pid) {
  const s = readProc(pid, 'status');
  if (s === null) return null;
  const m = /^State:\s+(\S)/m.exec(s);
  return m ? m[1] : '?';
}

/** Does the command line `argv` name `room` (after the program)? */
export function namesRoom(argv, room) {
  return argv.slice(1).some((a) => a === room || a.split(/\s+/).includes(room));
}

/** The live coup-roomd child of `gwPid` serving `room` (e.g. "video:x"): {pid, argv}, or null. */
export function roomChild(gwPid, room) {
  for (const pid of childrenOf(gwPid)) {
    const argv = cmdline(pid);
    if (!argv || argv.length === 0 || procState(pid) === 'Z') continue;
    if (namesRoom(argv, room)) return { pid, argv };
  }
  return null;
}
