/**
 * Control messages between the primary of `--workers N` and each worker, on the worker's
 * IPC channel beside the broker's (tagged `sbw`, the broker's are `sbc`).
 */
export const WORKER_TAG = 'sbw';

export type WorkerControlOp = 'status' | 'reload' | 'restart' | 'metrics' | 'figures';

/** What a worker may ask its primary. */
export type PrimaryOp = 'metrics';

export type PrimaryToWorker =
  | { [WORKER_TAG]: 'req'; id: number; op: WorkerControlOp; arg?: string }
  /** Stop gracefully (drain, close connections with 1001, or in batches with 1012 over `window`) and exit. */
  | { [WORKER_TAG]: 'stop'; window?: { windowMs: number; batches?: number } }
  /** The answer to a worker's `ask`. */
  | { [WORKER_TAG]: 'told'; id: number; ok: true; value: unknown }
  | { [WORKER_TAG]: 'told'; id: number; ok: false; error: string };

export type WorkerToPrimary =
  | { [WORKER_TAG]: 'ready'; node: string; listening: string[]; routes: string[] }
  | { [WORKER_TAG]: 'res'; id: number; ok: true; value: unknown }
  | { [WORKER_TAG]: 'res'; id: number; ok: false; error: string; code?: string }
  /** A worker asks the primary (e.g. for the merged metrics of every worker). */
  | { [WORKER_TAG]: 'ask'; id: number; op: PrimaryOp };
