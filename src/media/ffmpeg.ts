/** Running ffmpeg: its words on failure, and the frame it has reached as it goes. */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';

export class TranscodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscodeError';
  }
}

/** Runs ffmpeg with `args` (it writes the files they name); rejects with its exit code and stderr. */
export async function runFfmpeg(ffmpegPath: string, args: string[], onFrame?: (frame: number) => void): Promise<void> {
  const child = spawn(ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-y', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Encoding is background work: on a machine with few cores the event loop (HTTP, Temporal
  // queries) should win the CPU over three encoders at once, as it does over the model threads.
  if (child.pid) {
    try {
      os.setPriority(child.pid, 10);
    } catch {
      // Already gone, or not allowed: it runs at the process's priority.
    }
  }
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const frame = /^frame=(\d+)$/.exec(line);
    if (frame) onFrame?.(Number(frame[1]));
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).catch((err: Error) => {
    throw new TranscodeError(`ffmpeg could not run: ${err.message}`);
  });
  if (code !== 0) throw new TranscodeError(`ffmpeg exited with ${code}: ${stderr.trim()}`);
}
