/** A small leveled logger writing one line per event to stderr; no secrets are ever passed to it. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

export function createLogger(level: Level = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (at: Level) => (msg: string, meta?: Record<string, unknown>) => {
    if (order[at] < order[level]) return;
    const extra = meta && Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
    write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${msg}${extra}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
