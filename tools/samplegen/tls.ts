/**
 * TLS 1.3 (RFC 8446) records that look right on the wire: ClientHello and ServerHello
 * with the extensions a dissector expects, then opaque "encrypted" records. No real
 * cryptography: the key shares and ciphertext are pseudo-random bytes with the marker
 * placed inside, so a leak of payload bytes is detectable.
 */
import { Prng } from './prng';

const CONTENT_CHANGE_CIPHER_SPEC = 20;
const CONTENT_HANDSHAKE = 22;
const CONTENT_APPLICATION_DATA = 23;
const HANDSHAKE_CLIENT_HELLO = 1;
const HANDSHAKE_SERVER_HELLO = 2;
const TLS_AES_128_GCM_SHA256 = 0x1301;
const GROUP_X25519 = 0x001d;

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

function u24(v: number): Buffer {
  return Buffer.from([(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
}

function vec16(body: Buffer): Buffer {
  return Buffer.concat([u16(body.length), body]);
}

function vec8(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([body.length]), body]);
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(body)]);
}

function record(contentType: number, legacyVersion: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([contentType]), u16(legacyVersion), vec16(body)]);
}

function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u24(body.length), body]);
}

/** The legacy session id: the marker, padded or cut to its 32 bytes, echoed by the server. */
function sessionId(marker: string): Buffer {
  const id = Buffer.alloc(32, 0x2e);
  Buffer.from(marker, 'ascii').copy(id, 0, 0, 32);
  return id;
}

export function clientHello(serverName: string, marker: string, rng: Prng): Buffer {
  const name = Buffer.from(serverName, 'ascii');
  const alpn = Buffer.concat([vec8(Buffer.from('h2')), vec8(Buffer.from('http/1.1')), vec8(Buffer.from(marker, 'ascii'))]);
  const extensions = Buffer.concat([
    extension(0, vec16(Buffer.concat([Buffer.from([0]), vec16(name)]))), // server_name
    extension(10, vec16(Buffer.concat([u16(GROUP_X25519), u16(0x0017)]))), // supported_groups
    extension(13, vec16(Buffer.concat([u16(0x0403), u16(0x0804), u16(0x0401)]))), // signature_algorithms
    extension(16, vec16(alpn)), // application_layer_protocol_negotiation
    extension(43, vec8(u16(0x0304))), // supported_versions: TLS 1.3
    extension(45, vec8(Buffer.from([1]))), // psk_key_exchange_modes: psk_dhe_ke
    extension(51, vec16(Buffer.concat([u16(GROUP_X25519), vec16(rng.bytes(32))]))), // key_share
  ]);
  const body = Buffer.concat([
    u16(0x0303),
    rng.bytes(32),
    vec8(sessionId(marker)),
    vec16(Buffer.concat([u16(0x1301), u16(0x1302), u16(0x1303)])),
    vec8(Buffer.from([0])),
    vec16(extensions),
  ]);
  return record(CONTENT_HANDSHAKE, 0x0301, handshake(HANDSHAKE_CLIENT_HELLO, body));
}

/** ServerHello, the compatibility ChangeCipherSpec, and the encrypted rest of the server's flight. */
export function serverFlight(marker: string, rng: Prng, encryptedBytes: number): Buffer {
  const extensions = Buffer.concat([
    extension(43, u16(0x0304)),
    extension(51, Buffer.concat([u16(GROUP_X25519), vec16(rng.bytes(32))])),
  ]);
  const body = Buffer.concat([
    u16(0x0303),
    rng.bytes(32),
    vec8(sessionId(marker)),
    u16(TLS_AES_128_GCM_SHA256),
    Buffer.from([0]),
    vec16(extensions),
  ]);
  return Buffer.concat([
    record(CONTENT_HANDSHAKE, 0x0303, handshake(HANDSHAKE_SERVER_HELLO, body)),
    changeCipherSpec(),
    applicationData(marker, rng, encryptedBytes),
  ]);
}

export function changeCipherSpec(): Buffer {
  return record(CONTENT_CHANGE_CIPHER_SPEC, 0x0303, Buffer.from([1]));
}

/** An opaque application_data record of n bytes (n >= marker length) with the marker inside. */
export function applicationData(marker: string, rng: Prng, n: number): Buffer {
  const body = rng.bytes(n);
  const m = Buffer.from(marker, 'ascii');
  m.copy(body, Math.min(8, Math.max(0, n - m.length)));
  return record(CONTENT_APPLICATION_DATA, 0x0303, body);
}
