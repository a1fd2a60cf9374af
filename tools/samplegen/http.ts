/** HTTP/1.1 request and response text, each carrying the marker. */
import { Prng } from './prng';

export function httpGet(host: string, path: string, marker: string): Buffer {
  return Buffer.from(
    `GET ${path}?m=${marker} HTTP/1.1\r\n` +
      `Host: ${host}\r\n` +
      'User-Agent: sealtap-samplegen/1\r\n' +
      'Accept: text/html,*/*;q=0.8\r\n' +
      `X-Sample-Marker: ${marker}\r\n` +
      'Connection: close\r\n\r\n',
    'ascii',
  );
}

/** A 200 response whose HTML body is bodyBytes long (at least long enough to hold the marker). */
export function httpOk(bodyBytes: number, marker: string, rng: Prng): Buffer {
  const head = `<html><body><p>${marker}</p>\n`;
  const tail = '</body></html>\n';
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  let filler = '';
  while (head.length + filler.length + tail.length < bodyBytes) filler += `${rng.pick(words)} `;
  const body = (head + filler).slice(0, Math.max(head.length, bodyBytes - tail.length)) + tail;
  return Buffer.from(
    'HTTP/1.1 200 OK\r\n' +
      'Server: sample\r\n' +
      'Content-Type: text/html; charset=us-ascii\r\n' +
      `Content-Length: ${body.length}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
    'ascii',
  );
}
