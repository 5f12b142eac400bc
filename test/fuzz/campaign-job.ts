/** What the campaign hands each target's worker, and what the worker reports back. */
export interface CampaignJob {
  target: string;
  /** Date.now() past which no new batch starts (worker start-up counts against the share). */
  deadline: number;
  maxRuns: number;
  seed: number;
  save: boolean;
  /** Larger interesting inputs are used during the run but not written to the corpus. */
  saveMaxBytes: number;
  /** [length: int32][bytes]: the input being run, for the watchdog to save if it hangs. */
  current: SharedArrayBuffer;
}

export interface Failure {
  file: string;
  message: string;
}

export interface CampaignReport {
  target: string;
  executions: number;
  millis: number;
  corpusStart: number;
  corpusEnd: number;
  newInputs: number;
  saved: number;
  blocks: number;
  failures: Failure[];
}
