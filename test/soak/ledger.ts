// The soak's accounting: what was sent and acknowledged, what each member of each room
// received (by offset), and what must have arrived by the end.

/** One connection's membership of one room: offsets seen, checked for gaps as they come. */
export class Membership {
  /** The room's offset in the join reply: every message after it must arrive. */
  from: number | undefined;
  first: number | undefined;
  last: number | undefined;
  epoch: string | undefined;
  gaps = 0;
  received = 0;
  readonly #ledger: Ledger;

  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  /** A room message as the client hands it over (its client drops duplicates around a resume). */
  message(pos: { e: string; o: number }): void {
    this.received += 1;
    this.#ledger.roomMessages += 1;
    if (this.epoch !== undefined && pos.e !== this.epoch) this.#gap(`epoch changed from ${this.epoch} to ${pos.e}`);
    this.epoch ??= pos.e;
    if (this.last !== undefined && pos.o !== this.last + 1) this.#gap(`offset ${pos.o} after ${this.last}`);
    this.first ??= pos.o;
    this.last = pos.o;
  }

  /** The join was answered at `pos`: messages already seen must start right after it. */
  joined(pos: { e: string; o: number }): void {
    this.from = pos.o;
    if (this.first !== undefined && this.first !== pos.o + 1) this.#gap(`first offset ${this.first} after joining at ${pos.o}`);
    this.last ??= pos.o;
    this.epoch ??= pos.e;
  }

  #gap(what: string): void {
    this.gaps += 1;
    this.#ledger.problem(`room gap: ${what}`);
  }
}

export class Ledger {
  connectionsOpened = 0;
  /** Handshakes that timed out or were reset (a machine too busy); an HTTP refusal is a problem. */
  connectTimeouts = 0;
  peakConnections = 0;
  commandsSent = 0;
  repliesOk = 0;
  /** Replies whose data was not what the command sent back (a misrouted or corrupted reply). */
  repliesWrong = 0;
  /** Calls that timed out on a connection that stayed open: an acknowledged command without its reply. */
  repliesMissing = 0;
  /** Calls in flight when the soak itself dropped their connection (no reply expected). */
  abandoned = 0;
  published = 0;
  roomMessages = 0;
  /** A member that stayed did not reach the room's last acknowledged offset before it left. */
  tailMisses = 0;
  announces = 0;
  announceMisses = 0;
  randomDrops = 0;
  resumes = 0;
  resumesRecovered = 0;
  slowConsumers = 0;
  /** Slow consumers the server closed (1008: send buffer over its high-water mark). */
  slowClosedByServer = 0;
  crashes = 0;
  crashClientsClosed = 0;
  crashyCalls = 0;
  /** Close codes of connections the server closed although the soak did not expect it. */
  unexpectedCloses: Record<string, number> = {};
  /** The highest acknowledged offset per room. */
  readonly acked = new Map<string, number>();
  readonly problems: string[] = [];
  live = 0;

  problem(what: string): void {
    if (this.problems.length < 50) this.problems.push(what);
  }

  opened(): void {
    this.connectionsOpened += 1;
    this.live += 1;
    this.peakConnections = Math.max(this.peakConnections, this.live);
  }

  closed(): void {
    this.live -= 1;
  }

  ack(room: string, offset: number): void {
    this.published += 1;
    if (offset > (this.acked.get(room) ?? 0)) this.acked.set(room, offset);
  }

  /** A handshake that timed out or was reset (the server's handshake timeout on a starved machine) is counted; a refusal is a problem. */
  connectFailed(err: unknown): void {
    if ((err as { code?: string }).code === 'unreachable') this.connectTimeouts += 1;
    else this.problem(`connect failed: ${String(err)}`);
  }

  unexpectedClose(code: number): void {
    this.unexpectedCloses[code] = (this.unexpectedCloses[code] ?? 0) + 1;
    this.problem(`a connection was closed by the server with ${code}`);
  }
}
