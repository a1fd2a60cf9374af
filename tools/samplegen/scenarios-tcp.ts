/** TCP scenarios of the sample: HTTP sessions (one ending in a reset) and a TLS 1.3 session. */
import { Endpoint } from './link';
import { httpGet, httpOk } from './http';
import { ephemeralPort } from './plan';
import { Prng } from './prng';
import { TcpConversation } from './tcp-conversation';
import { applicationData, changeCipherSpec, clientHello, serverFlight } from './tls';
import { Scenario } from './trace';

const PATHS = ['/', '/index.html', '/news/today', '/img/logo.svg', '/api/v1/status'];

/** Handshake, GET, a single-segment response, server-initiated FIN teardown: 10 packets. */
export function httpSession(s: Scenario, rng: Prng, marker: string, client: Endpoint, server: Endpoint, host: string): void {
  const c = new TcpConversation(s, rng, client, server, ephemeralPort(rng), 80);
  c.handshake();
  c.send(true, httpGet(host, rng.pick(PATHS), marker));
  // Header plus body must fit one segment, so the HTTP dissector sees the response in one packet.
  c.send(false, httpOk(rng.int(120, 1100), marker, rng), rng.int(500, 5000));
  c.close(false);
}

/** Like httpSession, but the client aborts with an RST after the response: 8 packets. */
export function httpSessionReset(s: Scenario, rng: Prng, marker: string, client: Endpoint, server: Endpoint, host: string): void {
  const c = new TcpConversation(s, rng, client, server, ephemeralPort(rng), 80);
  c.handshake();
  c.send(true, httpGet(host, rng.pick(PATHS), marker));
  c.send(false, httpOk(rng.int(120, 600), marker, rng), rng.int(500, 5000));
  c.reset(true);
}

/** TLS 1.3 on port 443: ClientHello, server flight, client finish + request, response, close: 14 packets. */
export function tlsSession(s: Scenario, rng: Prng, marker: string, client: Endpoint, server: Endpoint, host: string): void {
  const c = new TcpConversation(s, rng, client, server, ephemeralPort(rng), 443);
  c.handshake();
  c.send(true, clientHello(host, marker, rng));
  c.send(false, serverFlight(marker, rng, rng.int(600, 1100)), rng.int(200, 2000));
  c.send(true, Buffer.concat([changeCipherSpec(), applicationData(marker, rng, 53), applicationData(marker, rng, rng.int(80, 300))]));
  c.send(false, applicationData(marker, rng, rng.int(300, 1300)), rng.int(1000, 8000));
  c.close(true);
}
