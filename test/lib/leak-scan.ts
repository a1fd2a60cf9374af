// Scans everything a run left readable outside the box's sealed storage for raw data
// of the sample trace: the receiver's files, the recorded line, the console, and any
// file a hostile module managed to create. Looks for the payload marker, every raw
// IPv4/IPv6 address and MAC in the encodings a module would use (dotted, reversed,
// zero-padded, hex, 32-bit numbers big- and little-endian, raw bytes in trace.pcap).
import * as fs from 'node:fs';
import * as path from 'node:path';

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

export interface RawTruth {
  ipv4: string[];
  ipv6: string[];
  /** 12 hex digits each. */
  mac: string[];
  marker: string;
}

function v4Forms(a: string): string[] {
  const o = a.split('.').map(Number);
  const be = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
  const le = ((o[3] << 24) | (o[2] << 16) | (o[1] << 8) | o[0]) >>> 0;
  return [
    a,
    [...o].reverse().join('.'),
    o.map((x) => String(x).padStart(3, '0')).join('.'),
    Buffer.from(o).toString('hex'),
    String(be), String(le), String(be + 2 ** 32), String(le + 2 ** 32),
  ];
}

function macForms(hex: string): string[] {
  const p = hex.match(/../g)!;
  return [hex, p.join(':'), p.join('-'), `${p[0]}${p[1]}.${p[2]}${p[3]}.${p[4]}${p[5]}`];
}

/**
 * Every place one raw value was found, as "file: form". Text forms are matched as
 * whole tokens, so 10.1.0.2 does not match inside 10.1.0.26.
 */
export function findRaw(texts: Array<[string, Buffer]>, truth: RawTruth, pcaps: string[] = []): string[] {
  const hits: string[] = [];
  const forms: string[] = [];
  for (const a of truth.ipv4) forms.push(...v4Forms(a));
  for (const a of truth.ipv6) forms.push(a.toLowerCase());
  for (const m of truth.mac) {
    // Broadcast and all-zero stay the same when anonymized: not a leak.
    if (m === 'ffffffffffff' || m === '000000000000') continue;
    forms.push(...macForms(m.toLowerCase()));
  }
  const marker = Buffer.from(truth.marker);
  const markerB64 = marker.toString('base64').slice(0, 12);
  const markerHex = marker.toString('hex');
  for (const [name, data] of texts) {
    if (data.indexOf(marker) >= 0) hits.push(`${name}: payload marker`);
    const text = data.toString('latin1').toLowerCase();
    if (text.includes(markerHex)) hits.push(`${name}: payload marker as hex`);
    if (data.toString('latin1').includes(markerB64)) hits.push(`${name}: payload marker as base64`);
    for (const f of forms) {
      let at = text.indexOf(f);
      while (at >= 0) {
        const before = at === 0 ? '' : text[at - 1];
        const after = text[at + f.length] ?? '';
        if (!/[0-9a-f.:]/.test(before) && !/[0-9a-f:]/.test(after) && !(after === '.' && /[0-9]/.test(text[at + f.length + 1] ?? ''))) {
          hits.push(`${name}: ${f}`);
          break;
        }
        at = text.indexOf(f, at + 1);
      }
    }
  }
  for (const p of pcaps) {
    const b = fs.readFileSync(p);
    for (const a of truth.ipv4) if (b.indexOf(Buffer.from(a.split('.').map(Number))) >= 0) hits.push(`${p}: raw bytes of ${a}`);
    if (b.indexOf(marker) >= 0) hits.push(`${p}: payload marker`);
  }
  return hits;
}
