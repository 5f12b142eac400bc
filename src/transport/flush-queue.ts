import { OutputArena } from '../protocol/index.js';

/**
 * Coalesces writes: everything queued for one socket during one turn of the event loop
 * leaves in a single write. A socket registers once per turn; one setImmediate flushes all
 * of them when the turn's I/O callbacks are done. (A microtask flushed too early: a reply
 * made in a promise chain after the read, as every service reply is, left alone, one write
 * per reply; a turn's replies, room messages and live patches now share each socket's write.
 * An immediate runs before the loop waits for I/O again, so nothing is held longer.)
 *
 * It also owns the arena those sockets build small frames in: when every write of a run
 * went to the kernel at once, nothing in the arena is referenced any more and it is
 * rewound; when one was left queued, the arena moves on to a fresh block.
 *
 * The copies that join a socket's pieces into one write go to an arena of their own,
 * rewound after every write the kernel took whole: a fan-out turn builds all its members'
 * writes in one block. In the frame arena they took a fresh 64 KiB block every few dozen
 * members, external memory that brought on full collections; and rewinding the frame arena
 * itself mid-run would go over frames that sockets later in the run still hold.
 */
export interface Flushable {
  /** True when nothing written is still queued (the kernel took it all). */
  flush(): boolean;
}

export class FlushQueue {
  readonly arena: OutputArena;
  /** Where a socket's pieces are joined into one write (see above). */
  readonly joins: OutputArena;
  // Two lists used in turn, filled up to a count rather than emptied by setting their
  // length (which lets V8 shrink them, only to grow them again the next turn).
  #dirty: (Flushable | null)[] = [];
  #count = 0;
  #spare: (Flushable | null)[] = [];
  #scheduled = false;
  #run = () => {
    this.#scheduled = false;
    const list = this.#dirty;
    const n = this.#count;
    this.#dirty = this.#spare;
    this.#count = 0;
    let taken = true;
    const joins = this.joins;
    for (let i = 0; i < n; i++) {
      if (list[i]!.flush()) joins.release();
      else {
        taken = false;
        joins.retire();
      }
      list[i] = null;
    }
    this.#spare = list;
    if (!taken) this.arena.retire();
    else if (this.#count === 0) this.arena.release();
  };

  constructor(arenaBlockBytes?: number) {
    this.arena = new OutputArena(arenaBlockBytes);
    this.joins = new OutputArena(arenaBlockBytes);
  }

  add(item: Flushable): void {
    this.#dirty[this.#count++] = item;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }
}
