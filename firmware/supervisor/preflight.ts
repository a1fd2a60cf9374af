// Checks made before any key is generated or any packet read: each failure is one line
// that names the problem and the fix, and the run exits non-zero having touched nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunConfig } from './config';

export class PreflightError extends Error {}

function fail(msg: string): never {
  throw new PreflightError(msg);
}

export function preflight(cfg: RunConfig): void {
  const src = cfg.source;
  if (src.kind === 'pcap') {
    try {
      fs.accessSync(src.path, fs.constants.R_OK);
    } catch (e) {
      fail(`source.pcap ${src.path} is not readable (${(e as NodeJS.ErrnoException).code}): check the path in run.json`);
    }
    if (!fs.statSync(src.path).isFile()) fail(`source.pcap ${src.path} is not a file: give a pcap or pcapng file`);
  } else if (!fs.existsSync(path.join('/sys/class/net', src.name))) {
    const have = fs.existsSync('/sys/class/net') ? fs.readdirSync('/sys/class/net').join(', ') : 'none';
    fail(`source.interface ${src.name} does not exist (interfaces here: ${have}): check run.json or the board's captureInterface`);
  }

  if (cfg.spool.device) {
    let st: fs.Stats | null = null;
    try { st = fs.statSync(cfg.spool.device); } catch { /* reported below */ }
    if (!st) fail(`spool.device ${cfg.spool.device} does not exist: attach the spool disk, or fix spool.device in run.json (board spoolDevice)`);
    if (!st.isBlockDevice()) fail(`spool.device ${cfg.spool.device} is not a block device: the encrypted spool needs a whole disk or partition`);
  } else {
    let st: fs.Stats;
    try {
      st = fs.statSync(cfg.spool.dir);
    } catch {
      fail(`spool.dir ${cfg.spool.dir} does not exist: create it (mkdir -p) or point spool.dir at a directory`);
    }
    if (!st.isDirectory()) fail(`spool.dir ${cfg.spool.dir} is not a directory: point spool.dir at a directory`);
    try {
      fs.accessSync(cfg.spool.dir, fs.constants.W_OK);
    } catch {
      fail(`spool.dir ${cfg.spool.dir} is not writable: fix its permissions or choose another spool.dir`);
    }
    const free = freeBytes(cfg.spool.dir);
    // The ring, plus the results outbox that waits sealed beside it when the line is slow.
    if (free !== null && free < cfg.spool.bytes + cfg.channel.outboxBytes) {
      fail(`spool.dir ${cfg.spool.dir} has ${free} bytes free but spool.bytes + channel.outboxBytes ask for ${cfg.spool.bytes + cfg.channel.outboxBytes}: lower them or free space`);
    }
  }

  const ch = cfg.channel.path;
  if (fs.existsSync(ch)) {
    const st = fs.statSync(ch);
    if (st.isDirectory()) fail(`channel.path ${ch} is a directory: give a tty or a file to record the line into`);
    try {
      fs.accessSync(ch, fs.constants.W_OK);
    } catch {
      fail(`channel.path ${ch} is not writable: check its permissions`);
    }
  } else if (ch.startsWith('/dev/')) {
    fail(`channel.path ${ch} does not exist: check the results tty (board resultsTty) or the cable/gadget`);
  } else {
    try {
      fs.accessSync(path.dirname(ch), fs.constants.W_OK);
    } catch {
      fail(`channel.path ${ch}: its directory is missing or not writable`);
    }
  }

  if (cfg.policy !== 'default') {
    try {
      fs.accessSync(cfg.policy, fs.constants.R_OK);
    } catch {
      fail(`policy ${cfg.policy} is not readable: check the path in run.json (or use "default")`);
    }
  }
  if (cfg.analysis.module) {
    try {
      fs.accessSync(cfg.analysis.module, fs.constants.R_OK);
    } catch {
      fail(`analysis.module ${cfg.analysis.module} is not readable: check the path in run.json`);
    }
  }
}

function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
