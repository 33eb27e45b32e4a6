/**
 * Run by bench/run.ts in its own process, so its memory is that of transcoding and uploading
 * alone: the frames were made beforehand, by the parent, in the blob store at argv[2].
 */
import { transcodeFrames, type AnimationFormat } from '../src/media/transcode.js';
import { LocalBlobStore } from '../src/storage/local.js';

const [root, count, side] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const blobs = new LocalBlobStore(root);
const fps = 24;
process.send?.({ ready: true });
const started = Date.now();
for (const format of ['webm', 'webp', 'gif'] as AnimationFormat[]) {
  await transcodeFrames({ blobs, frames: { prefix: 'f', count, fps, width: side, height: side }, format, outKey: `out.${format}`, ffmpegPath: 'ffmpeg' });
}
process.send?.({ done: true, ms: Date.now() - started });
