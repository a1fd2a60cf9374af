// Shared fixtures for channel and receiver tests: a real per-boot signer, BOOT/END
// records, sample results, and a real socat pty pair as the serial line.
import sodium from 'sodium-native';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BootRecord, EndRecord, FlowRecord, DnsRecord } from '../../firmware/channel/records';
import { ChannelSigner } from '../../firmware/channel/writer';

export function makeSigner(): ChannelSigner & { secretKey: Buffer } {
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES);
  const secretKey = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_keypair(publicKey, secretKey);
  return {
    publicKey,
    secretKey,
    sign(msg: Buffer): Buffer {
      const sig = Buffer.alloc(sodium.crypto_sign_BYTES);
      sodium.crypto_sign_detached(sig, msg, secretKey);
      return sig;
    },
  };
}

export function newSession(): Buffer {
  const b = Buffer.alloc(8);
  sodium.randombytes_buf(b);
  return b;
}

export function makeBoot(session: Buffer, linkType = 1): BootRecord {
  return {
    session: session.toString('hex'), product: 'sealtap', version: '0.1.0', board: 'dev',
    firmware: { name: 'test', version: '1', hash: 'dev' }, link: { kind: 'file', baud: null },
    checkpointKey: '', linkType, outputs: ['flows', 'dns', 'packets'], uptimeMs: 5,
  };
}

export function makeEnd(captured = 1000): EndRecord {
  return {
    reason: 'endOfSource', captured, kernelDropped: 3, spoolDropped: 2, spoolAuthFailures: 0,
    analysed: captured - 5, quarantined: 1, egressRefused: 0, analysisRestarts: 0,
    records: {}, outboxDropped: 0, uptimeMs: 12345,
  };
}

export function makeFlow(i: number): FlowRecord {
  return {
    ipVersion: i % 5 === 0 ? 6 : 4, protocol: i % 3 === 0 ? 17 : 6,
    srcAddr: i % 5 === 0 ? `2001:db8::${(i % 65535).toString(16)}` : `10.${(i >> 8) & 255}.${i & 255}.1`,
    dstAddr: i % 5 === 0 ? '2001:db8:1::1' : '192.0.2.7',
    srcPort: 1024 + (i % 60000), dstPort: 443, firstUs: 1_700_000_000_000_000 + i * 1000, lastUs: 1_700_000_000_500_000 + i * 1000,
    packets: 1 + (i % 7), bytes: 60 * (1 + (i % 7)), revPackets: i % 4, revBytes: 100 * (i % 4),
    tcpFlags: 0x12, revTcpFlags: i % 4 ? 0x10 : 0, endReason: 'idle',
  };
}

export function makeDns(i: number): DnsRecord {
  return { tsUs: 1_700_000_000_000_000 + i, qname: `h${i}.example`, qtype: 1, rcode: 0, answers: 1, latencyUs: 1200 };
}

/** A pcap record (16-byte LE header + bytes) of an Ethernet/IPv4/UDP packet of `len` bytes. */
export function makePacket(i: number, len = 60): Buffer {
  const rec = Buffer.alloc(16 + len);
  rec.writeUInt32LE(1_700_000_000 + i, 0);
  rec.writeUInt32LE(i % 1_000_000, 4);
  rec.writeUInt32LE(len, 8);
  rec.writeUInt32LE(len, 12);
  const p = rec.subarray(16);
  p.fill(0x02, 0, 6);
  p.fill(0x04, 6, 12);
  p.writeUInt16BE(0x0800, 12);
  if (len >= 42) {
    p[14] = 0x45;
    p.writeUInt16BE(len - 14, 16);
    p[22] = 64;
    p[23] = 17;
    p.set([10, 0, 0, 1], 26);
    p.set([10, 0, 0, 2], 30);
    p.writeUInt16BE(1000 + (i % 1000), 34);
    p.writeUInt16BE(53, 36);
    p.writeUInt16BE(len - 34, 38);
  }
  return rec;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sealtap-${prefix}-`));
}

export interface PtyPair {
  /** The end the box writes. */
  box: string;
  /** The end the receiver reads. */
  workstation: string;
  proc: ChildProcess;
  close(): Promise<void>;
}

/** A real pty pair from socat, as the serial line between box and workstation. */
export function openPtyPair(): Promise<PtyPair> {
  return new Promise((resolve, reject) => {
    const proc = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const ptys: string[] = [];
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      for (const m of d.toString().matchAll(/PTY is (\/dev\/pts\/\d+)/g)) ptys.push(m[1]);
      if (ptys.length === 2 && /starting data transfer loop/.test(err)) {
        resolve({
          box: ptys[0], workstation: ptys[1], proc,
          close: () => new Promise((r) => {
            if (proc.exitCode !== null) return r();
            proc.once('exit', () => r());
            proc.kill('SIGTERM');
          }),
        });
      }
    });
    proc.on('error', reject);
    proc.on('exit', (code) => { if (ptys.length < 2) reject(new Error(`socat exited ${code}: ${err}`)); });
  });
}
