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
 * rewound; when one was left queued, the arena moves on to a fresh block. Within a run, the
 * copies made to join a socket's pieces into one write are rewound after each write taken.
 */
export interface Flushable {
  /** True when nothing written is still queued (the kernel took it all). */
  flush(): boolean;
}

export class FlushQueue {
  readonly arena: OutputArena;
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
    // Frames built during the turn lie before this point, and sockets later in the list still
    // hold theirs; what a flush writes after it is gone once the kernel took it
    const arena = this.arena;
    const block = arena.buf;
    const built = arena.position;
    for (let i = 0; i < n; i++) {
      if (!list[i]!.flush()) taken = false;
      // while every write went to the kernel, the next socket's joined write goes over the last
      // one: a fan-out turn builds its members' writes in one block, not in a fresh 64 KiB
      // block per few dozen members (external memory that brought on full collections)
      else if (taken) arena.rewindTo(block, built);
      list[i] = null;
    }
    this.#spare = list;
    if (!taken) this.arena.retire();
    else if (this.#count === 0) this.arena.release();
  };

  constructor(arenaBlockBytes?: number) {
    this.arena = new OutputArena(arenaBlockBytes);
  }

  add(item: Flushable): void {
    this.#dirty[this.#count++] = item;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }
}
