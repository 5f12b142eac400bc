// Command-line flags shared by the bench servers: --port N --host H [--deflate].
export interface ServerArgs {
  port: number;
  host: string;
  deflate: boolean;
}

export function parseServerArgs(argv: string[]): ServerArgs {
  const out: ServerArgs = { port: 0, host: '127.0.0.1', deflate: process.env.BENCH_DEFLATE === '1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a === '--host') out.host = String(argv[++i]);
    else if (a === '--deflate') out.deflate = true;
  }
  return out;
}
