import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { cobsDecode, cobsDecodeFast, cobsEncode, cobsMaxEncodedLength } from '../../firmware/channel/cobs';
import { batchBinding } from '../../firmware/capture/batch-binding';

function sample(len: number, zeroEvery: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = seed;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = zeroEvery > 0 && i % zeroEvery === 0 ? 0 : (x >>> 16) & 0xff;
  }
  return b;
}

test('round-trips empty, short, block-boundary and long inputs', () => {
  for (const len of [0, 1, 2, 253, 254, 255, 256, 508, 509, 1024, 5000]) {
    for (const zeroEvery of [0, 1, 7, 300]) {
      const src = sample(len, zeroEvery, len + zeroEvery);
      const enc = cobsEncode(src);
      assert.ok(enc.length <= cobsMaxEncodedLength(len), `encoded ${len} bytes too long`);
      assert.is(enc.indexOf(0), -1, `encoded ${len}/${zeroEvery} contains a zero`);
      assert.equal(cobsDecode(enc), src, `round trip of ${len}/${zeroEvery}`);
    }
  }
});

test('frames cut from one slab stay as encoded while later ones are: each kept encoding decodes to its own input', () => {
  const inputs = Array.from({ length: 600 }, (_, i) => {
    const b = Buffer.alloc(1 + ((i * 4099) % 5000));
    for (let j = 0; j < b.length; j++) b[j] = (i * 31 + j * 7) % 5 === 0 ? 0 : (i + j) & 0xff;
    return b;
  });
  const big = Buffer.alloc(300 * 1024, 9); // past the slab: a buffer of its own
  inputs.push(big);
  const encoded = inputs.map((b, i) => cobsEncode(b, i % 2 === 0));
  for (let i = 0; i < inputs.length; i++) {
    const e = encoded[i];
    const block = i % 2 === 0 ? e.subarray(0, e.length - 1) : e;
    if (i % 2 === 0) assert.is(e[e.length - 1], 0, 'delimited');
    assert.ok(cobsDecode(block)?.equals(inputs[i]), `input ${i} of ${inputs[i].length} bytes`);
  }
  // Decoded frames come out of slabs too: each kept one stays as decoded while later ones
  // (and refused blocks, which write into the slab before they are refused) are decoded.
  const decoded = encoded.map((e, i) => {
    const block = i % 2 === 0 ? e.subarray(0, e.length - 1) : e;
    if (i % 7 === 0) assert.is(cobsDecodeFast(Buffer.concat([block.subarray(0, 3), Buffer.from([0]), block.subarray(3)])), null);
    return cobsDecodeFast(block);
  });
  for (let i = 0; i < inputs.length; i++) assert.ok(decoded[i]?.equals(inputs[i]), `decoded ${i} of ${inputs[i].length} bytes`);
});

test('encodes the known example 11 22 00 33 as 03 11 22 02 33', () => {
  assert.equal([...cobsEncode(Buffer.from([0x11, 0x22, 0x00, 0x33]))], [0x03, 0x11, 0x22, 0x02, 0x33]);
});

test('refuses a block with a zero inside', () => {
  assert.is(cobsDecode(Buffer.from([0x03, 0x11, 0x00, 0x02, 0x33])), null);
});

test('refuses a length code that runs past the end', () => {
  assert.is(cobsDecode(Buffer.from([0x05, 0x11, 0x22])), null);
});

test('refuses a zero length code', () => {
  assert.is(cobsDecode(Buffer.from([0x00])), null);
});


// The byte-at-a-time definition, kept here as the reference the run-copying code must match.
function referenceEncode(src: Uint8Array): Buffer {
  const out: number[] = [0];
  let codeAt = 0;
  let code = 1;
  for (const b of src) {
    if (b === 0) {
      out[codeAt] = code;
      codeAt = out.push(0) - 1;
      code = 1;
    } else {
      out.push(b);
      if (++code === 0xff) {
        out[codeAt] = code;
        codeAt = out.push(0) - 1;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return Buffer.from(out);
}

// The byte-at-a-time decoding, the reference for the span-copying decoder.
function referenceDecode(block: Uint8Array): Buffer | null {
  const out: number[] = [];
  let i = 0;
  while (i < block.length) {
    const code = block[i];
    if (code === 0 || i + code > block.length) return null;
    for (let j = i + 1; j < i + code; j++) {
      if (block[j] === 0) return null;
      out.push(block[j]);
    }
    i += code;
    if (code !== 0xff && i < block.length) out.push(0);
  }
  return Buffer.from(out);
}

test('decodes as the byte-at-a-time definition does, valid blocks and random ones alike', () => {
  let seed = 11;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let valid = 0;
  for (let t = 0; t < 3000; t++) {
    const len = Math.floor(rnd() * (t % 3 === 0 ? 5000 : 600));
    const block = Buffer.alloc(len);
    if (t % 2 === 0) {
      // Random bytes, zeros left out: length codes run past the end or land anywhere.
      const bias = [1, 4, 40, 255][t % 4];
      for (let i = 0; i < len; i++) block[i] = 1 + Math.floor(rnd() ** bias * 255);
    } else {
      // A real encoding of input with zeros every so often, 0xff codes included.
      const zeroEvery = [2, 7, 253, 254, 255, 600][t % 6];
      const src = Buffer.alloc(len);
      for (let i = 0; i < len; i++) src[i] = rnd() * zeroEvery < 1 ? 0 : 1 + Math.floor(rnd() * 255);
      const enc = cobsEncode(src);
      const got = cobsDecode(enc);
      assert.ok(got !== null && got.equals(src), `round trip ${t}`);
      assert.ok(cobsDecodeFast(enc)!.equals(src), `round trip ${t} in C`);
      assert.ok(referenceDecode(enc)!.equals(src));
      continue;
    }
    const want = referenceDecode(block);
    const got = cobsDecode(block);
    const fast = cobsDecodeFast(block);
    if (want === null) {
      assert.is(got, null, `block ${t} of ${len} bytes is not COBS`);
      assert.is(fast, null, `block ${t} of ${len} bytes is not COBS (C)`);
    } else {
      valid++;
      assert.ok(got !== null && got.equals(want), `block ${t} of ${len} bytes`);
      assert.ok(fast !== null && fast.equals(want), `block ${t} of ${len} bytes (C)`);
    }
  }
  assert.ok(valid > 100, `only ${valid} random blocks were valid COBS`);
});

test('a zero anywhere in a block is refused, in the C decoder\'s eight-byte steps and in its byte steps alike', () => {
  let seed = 23;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < 2000; t++) {
    const len = 1 + Math.floor(rnd() * 700);
    const zeroEvery = [3, 9, 20, 300][t % 4];
    const src = Buffer.alloc(len);
    for (let i = 0; i < len; i++) src[i] = rnd() * zeroEvery < 1 ? 0 : 1 + Math.floor(rnd() * 255);
    const enc = Buffer.from(cobsEncode(src));
    const at = Math.floor(rnd() * enc.length);
    enc[at] = 0;
    assert.is(referenceDecode(enc), null);
    assert.is(cobsDecodeFast(enc), null, `input ${t}: a zero at ${at} of ${enc.length}`);
  }
});

test('matches the byte-at-a-time definition on random inputs with runs of every length around 254', () => {
  let seed = 7;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < 400; t++) {
    const len = Math.floor(rnd() * 1200);
    const zeroEvery = [2, 50, 253, 254, 255, 256, 508, 5000][t % 8];
    const src = Buffer.alloc(len);
    for (let i = 0; i < len; i++) src[i] = rnd() * zeroEvery < 1 ? 0 : 1 + Math.floor(rnd() * 255);
    const enc = cobsEncode(src);
    assert.ok(enc.equals(referenceEncode(src)), `input ${t}, ${len} bytes`);
    assert.ok(cobsEncode(src, true).equals(Buffer.concat([enc, Buffer.from([0])])));
    assert.ok(cobsDecode(enc)!.equals(src), `round trip ${t}`);
    assert.ok(cobsDecodeFast(enc)!.equals(src), `round trip ${t} in C`);
  }
});

test('runs of 252 to 256 bytes and zeros on every 16-byte boundary: the C encoder (shifted copy or byte loop) agrees with the definition', () => {
  // The C encoder copies src one byte on and patches each zero when no run is longer
  // than 253 bytes, and the C decoder undoes that up to the first 0xff code; these
  // inputs put every run length at which that stops around each place it is checked.
  let t = 0;
  for (const lead of [0, 1, 15, 16, 17, 31, 32, 33]) {
    for (const run of [0, 1, 14, 15, 16, 252, 253, 254, 255, 256, 507, 508]) {
      for (const tail of [0, 1, 2, 16, 253, 254]) {
        const src = Buffer.concat([Buffer.alloc(lead, 0x5a), Buffer.alloc(1), Buffer.alloc(run, 0xa5), Buffer.alloc(1), Buffer.alloc(tail, 0x3c)]);
        for (let z = 0; z < src.length; z += 16) if (t % 2 === 0) src[z] = 0;
        const enc = cobsEncode(src);
        assert.ok(enc.equals(referenceEncode(src)), `lead ${lead}, run ${run}, tail ${tail}`);
        assert.ok(cobsDecodeFast(enc)!.equals(src), `lead ${lead}, run ${run}, tail ${tail}: decoded in C`);
        t++;
      }
    }
  }
  for (const n of [0, 1, 15, 16, 17, 253, 254, 255]) {
    for (const fill of [0, 0x77]) {
      const src = Buffer.alloc(n, fill);
      assert.ok(cobsEncode(src).equals(referenceEncode(src)), `${n} bytes of ${fill}`);
      assert.ok(cobsDecodeFast(cobsEncode(src))!.equals(src), `${n} bytes of ${fill}: decoded in C`);
    }
  }
});

test('encodes a view into a larger buffer from its own offset, and the C encoder refuses an out too small or not bytes', () => {
  const big = Buffer.alloc(3000, 7);
  big[1500] = 0;
  const view = big.subarray(1000, 2000);
  assert.ok(cobsEncode(view).equals(referenceEncode(Buffer.from(view))));
  assert.throws(() => batchBinding.cobsEncode(Buffer.alloc(300, 1), Buffer.alloc(301)), /smaller than/);
  assert.throws(() => batchBinding.cobsEncode(new Uint16Array(4) as unknown as Uint8Array, Buffer.alloc(20)), /two Uint8Arrays/);
});

test('the C decoder gives the known example back, refuses the same bad blocks, and refuses an out too small or not bytes', () => {
  assert.ok(cobsDecodeFast(Buffer.from([0x03, 0x11, 0x22, 0x02, 0x33]))!.equals(Buffer.from([0x11, 0x22, 0x00, 0x33])));
  assert.is(cobsDecodeFast(Buffer.from([0x03, 0x11, 0x00, 0x02, 0x33])), null, 'a zero inside');
  assert.is(cobsDecodeFast(Buffer.from([0x05, 0x11, 0x22])), null, 'a code past the end');
  assert.is(cobsDecodeFast(Buffer.from([0x00])), null, 'a zero code');
  assert.is(cobsDecodeFast(Buffer.alloc(0))!.length, 0, 'an empty block decodes to nothing, as cobsDecode');
  const view = Buffer.concat([Buffer.from([9, 9]), cobsEncode(Buffer.from([1, 0, 2])), Buffer.from([9])]).subarray(2, 6);
  assert.ok(cobsDecodeFast(view)!.equals(Buffer.from([1, 0, 2])), 'a view decodes from its own offset');
  assert.throws(() => batchBinding.cobsDecode(Buffer.from([3, 1, 2]), Buffer.alloc(2)), /smaller than src/);
  assert.throws(() => batchBinding.cobsDecode(new Uint16Array(4) as unknown as Uint8Array, Buffer.alloc(20)), /two Uint8Arrays/);
});

test('the receiver loads the native addon only when it decodes its first frame', () => {
  const dist = path.resolve(__dirname, '..', '..', 'firmware');
  const code = `
    const { decodeFrame } = require(${JSON.stringify(path.join(dist, 'channel', 'frame.js'))});
    require(${JSON.stringify(path.join(dist, 'receiver', 'decoder.js'))});
    const loaded = () => require('fs').readFileSync('/proc/self/maps', 'utf8').includes('sealtap-capture.node');
    const before = loaded();
    decodeFrame(Buffer.from([3, 1, 2]));
    process.stdout.write(before + ' ' + loaded());`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'false true');
});

test.run();
