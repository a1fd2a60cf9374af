// --ipfix udp://host:port: forwards each IPFIX message to a collector (nfcapd, …).
// Workstation side only: the box has no network modules.
import * as dgram from 'node:dgram';
import { isIP } from 'node:net';

export class IpfixForwarder {
  private readonly sock: dgram.Socket;
  private inflight = 0;
  private waiters: Array<() => void> = [];
  sent = 0;
  errors = 0;

  constructor(readonly host: string, readonly port: number) {
    this.sock = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    this.sock.on('error', () => this.errors++);
  }

  static parse(url: string): { host: string; port: number } {
    const m = /^udp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port > 0 && port < 65536)) throw new Error(`--ipfix ${url}: expected udp://host:port, e.g. udp://127.0.0.1:4739`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  }

  send(msg: Buffer): void {
    this.inflight++;
    this.sock.send(msg, this.port, this.host, (err) => {
      this.inflight--;
      if (err) this.errors++;
      else this.sent++;
      if (this.inflight === 0) for (const w of this.waiters.splice(0)) w();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => void this.sock.close(() => resolve());
      if (this.inflight === 0) done();
      else this.waiters.push(done);
    });
  }
}
