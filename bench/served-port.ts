// The port a `switchboard serve --port 0` child listens on, read from the console URL it prints.
import type { ChildProcess } from 'node:child_process';

export function servedPort(server: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let err = '';
    server.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /console: +http:\/\/[^:]+:(\d+)\//.exec(err);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', () => reject(new Error(`server exited: ${err}`)));
  });
}
