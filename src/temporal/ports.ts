/** Checks that the ports the embedded stack needs are free, before anything is started. */
import net from 'node:net';

export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export class PortsTakenError extends Error {
  constructor(public readonly taken: { port: number; envName: string; what: string }[]) {
    super(
      [
        'Cannot start: ' + (taken.length === 1 ? 'a port is' : 'ports are') + ' already in use.',
        ...taken.map((t) => `  - ${t.port} (${t.what}): stop what is listening there, or set ${t.envName} to another port`),
        'Is another stickerflow already running? (`ss -ltnp` shows who holds a port.)',
      ].join('\n'),
    );
    this.name = 'PortsTakenError';
  }
}

export async function assertPortsFree(wanted: { port: number; envName: string; what: string }[]): Promise<void> {
  const results = await Promise.all(wanted.map(async (w) => ({ ...w, free: await portIsFree(w.port) })));
  const taken = results.filter((r) => !r.free);
  if (taken.length) throw new PortsTakenError(taken);
}
