/**
 * Whether the browser shows a playing video's transparency: the four corners of its frame (where a
 * buddy is see-through) are drawn onto a 2×2 canvas, and one at least must come out see-through.
 * Safari plays VP9 WebM but drops its alpha (an opaque box, every corner opaque); where this
 * answers false, the pages show the animated WebP instead.
 *
 * One function serves both the pages' bundle and the QR viewer's inline script (which embeds its
 * source text), so it must stay self-contained: no imports, no helpers, no inner functions.
 */
export function showsTransparency(video: HTMLVideoElement): boolean {
  const w = video.videoWidth;
  const h = video.videoHeight;
  if (!w || !h) return false;
  try {
    const canvas = document.createElement('canvas');
    canvas.width = 2;
    canvas.height = 2;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) return false;
    const corners = [
      [0, 0],
      [w - 1, 0],
      [0, h - 1],
      [w - 1, h - 1],
    ];
    for (let i = 0; i < 4; i++) context.drawImage(video, corners[i]![0]!, corners[i]![1]!, 1, 1, i % 2, i >> 1, 1, 1);
    const pixels = context.getImageData(0, 0, 2, 2).data;
    for (let i = 0; i < 4; i++) if (pixels[i * 4 + 3]! <= 127) return true;
    return false;
  } catch {
    return false; // a tainted or undrawable frame: do not trust the video's transparency
  }
}
