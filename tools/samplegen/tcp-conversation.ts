/**
 * One TCP connection between a client and a server, with consistent sequence and
 * acknowledgement numbers, so a dissector sees no retransmissions, gaps or bad ACKs.
 */
import { Endpoint, ipFrame } from './link';
import { PROTO_TCP } from './ipv4';
import { Prng } from './prng';
import { ACK, FIN, PSH, RST, SYN, synOptions, tcpSegment } from './tcp';
import { Scenario } from './trace';

/** The largest payload one segment carries here: an Ethernet MTU minus IPv6 and TCP headers. */
export const MAX_SEGMENT = 1440;

export class TcpConversation {
  private clientNext: number;
  private serverNext: number;
  /** One-way delay between the tap and the far side, in microseconds. */
  private readonly halfRtt: number;

  constructor(
    private readonly s: Scenario,
    private readonly rng: Prng,
    private readonly client: Endpoint,
    private readonly server: Endpoint,
    private readonly clientPort: number,
    private readonly serverPort: number,
  ) {
    this.clientNext = rng.u32();
    this.serverNext = rng.u32();
    this.halfRtt = rng.int(2000, 40000);
  }

  private emit(fromClient: boolean, flags: number, payload: Buffer, gapUs: number, options?: Buffer): void {
    const [from, to] = fromClient ? [this.client, this.server] : [this.server, this.client];
    const seq = fromClient ? this.clientNext : this.serverNext;
    const ack = flags & ACK ? (fromClient ? this.serverNext : this.clientNext) : 0;
    const window = flags & SYN ? 64240 : 502;
    const seg = tcpSegment(
      { srcPort: fromClient ? this.clientPort : this.serverPort, dstPort: fromClient ? this.serverPort : this.clientPort, seq, ack, flags, window, options },
      from.ip,
      to.ip,
      payload,
    );
    this.s.add(gapUs, ipFrame(from, to, PROTO_TCP, seg, { ipId: this.rng.u32(), dontFragment: true }));
    // SYN and FIN each occupy one sequence number.
    const used = payload.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    if (fromClient) this.clientNext = (this.clientNext + used) >>> 0;
    else this.serverNext = (this.serverNext + used) >>> 0;
  }

  /** Time to the other side and back to the tap is twice the one-way delay; the tap sits at the client's end. */
  private turn(): number {
    return 2 * this.halfRtt + this.rng.int(0, 300);
  }

  private soon(): number {
    return this.rng.int(20, 400);
  }

  handshake(): void {
    this.emit(true, SYN, Buffer.alloc(0), 0, synOptions(1460, 7));
    this.emit(false, SYN | ACK, Buffer.alloc(0), this.turn(), synOptions(1440, 9));
    this.emit(true, ACK, Buffer.alloc(0), this.soon());
  }

  /** Sends payload in MSS-sized segments, each acknowledged by the other side. */
  send(fromClient: boolean, payload: Buffer, thinkUs = 0): void {
    let gap = fromClient ? this.soon() + thinkUs : this.turn() + thinkUs;
    for (let off = 0; off < payload.length; off += MAX_SEGMENT) {
      const piece = payload.subarray(off, off + MAX_SEGMENT);
      this.emit(fromClient, PSH | ACK, piece, gap);
      gap = this.soon();
    }
    this.emit(!fromClient, ACK, Buffer.alloc(0), fromClient ? this.turn() : this.soon());
  }

  /** Orderly close: FIN from one side, FIN+ACK from the other, final ACK. */
  close(clientFirst: boolean): void {
    this.emit(clientFirst, FIN | ACK, Buffer.alloc(0), clientFirst ? this.soon() : this.turn());
    this.emit(!clientFirst, FIN | ACK, Buffer.alloc(0), clientFirst ? this.turn() : this.soon());
    this.emit(clientFirst, ACK, Buffer.alloc(0), clientFirst ? this.soon() : this.turn());
  }

  /** Abort: an RST with the sender's next sequence number. */
  reset(fromClient: boolean): void {
    this.emit(fromClient, RST | ACK, Buffer.alloc(0), fromClient ? this.soon() : this.turn());
  }
}
