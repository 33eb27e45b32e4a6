/**
 * The local back end's "second generation" for a bust: the cartoon bust on a taller canvas with a
 * drawn cartoon body below it, on white (torso in the colour of the bust's lower edge, arms, legs, shoes),
 * so the animation has a whole character to bounce.
 */
import sharp from 'sharp';

export async function expandBust(bust: Buffer, removeBackground: (png: Buffer) => Promise<Buffer>): Promise<Buffer> {
  // The bust's own background would hide the body: cut the bust out first, then draw beneath it.
  const cut = await removeBackground(bust);
  const img = sharp(cut).ensureAlpha();
  const { width = 0, height = 0 } = await img.metadata();
  // The colour of the clothes: the commonest colour among the opaque pixels of the bust's bottom
  // tenth (a coarse histogram, so a dark helmet beside an orange suit neither averages to brown
  // nor wins).
  const bandTop = Math.round(height * 0.9);
  const band = await sharp(cut).ensureAlpha().extract({ left: 0, top: bandTop, width, height: height - bandTop }).raw().toBuffer();
  const bins = new Map<number, { n: number; r: number; g: number; b: number }>();
  for (let i = 0; i < band.length; i += 4) {
    if (band[i + 3]! < 200) continue;
    const key = ((band[i]! >> 5) << 6) | ((band[i + 1]! >> 5) << 3) | (band[i + 2]! >> 5);
    const bin = bins.get(key) ?? { n: 0, r: 0, g: 0, b: 0 };
    bin.n++;
    bin.r += band[i]!;
    bin.g += band[i + 1]!;
    bin.b += band[i + 2]!;
    bins.set(key, bin);
  }
  // Clothes are the colourful part: favour saturated bins over black, white and grey.
  const weight = (x: { n: number; r: number; g: number; b: number }) => {
    const c = [x.r / x.n, x.g / x.n, x.b / x.n];
    return x.n * (1 + (Math.max(...c) - Math.min(...c)) / 32);
  };
  const top = [...bins.values()].sort((x, y) => weight(y) - weight(x))[0];
  const [r, g, b] = top ? [top.r / top.n, top.g / top.n, top.b / top.n].map(Math.round) : [90, 110, 200];
  const cloth = `rgb(${r},${g},${b})`;
  const dark = `rgb(${Math.round((r ?? 0) * 0.55)},${Math.round((g ?? 0) * 0.55)},${Math.round((b ?? 0) * 0.55)})`;
  const total = Math.round(height * 2.1);
  const cx = width / 2;
  const torsoTop = height * 0.85;
  const torsoW = width * 0.62;
  const torsoH = height * 0.62;
  const legTop = torsoTop + torsoH - height * 0.05;
  const legH = total - legTop - height * 0.1;
  const legW = width * 0.17;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${total}">
  <g stroke="#1d1d1d" stroke-width="${Math.max(3, width / 120)}" stroke-linejoin="round">
    <rect x="${cx - legW * 1.25}" y="${legTop}" width="${legW}" height="${legH}" rx="${legW / 3}" fill="${dark}"/>
    <rect x="${cx + legW * 0.25}" y="${legTop}" width="${legW}" height="${legH}" rx="${legW / 3}" fill="${dark}"/>
    <ellipse cx="${cx - legW * 0.85}" cy="${legTop + legH}" rx="${legW * 0.85}" ry="${legW * 0.45}" fill="#2b2b2b"/>
    <ellipse cx="${cx + legW * 0.85}" cy="${legTop + legH}" rx="${legW * 0.85}" ry="${legW * 0.45}" fill="#2b2b2b"/>
    <rect x="${cx - torsoW / 2 - width * 0.1}" y="${torsoTop + height * 0.05}" width="${width * 0.13}" height="${torsoH * 0.85}" rx="${width * 0.06}" fill="${cloth}" transform="rotate(8 ${cx - torsoW / 2} ${torsoTop})"/>
    <rect x="${cx + torsoW / 2 - width * 0.03}" y="${torsoTop + height * 0.05}" width="${width * 0.13}" height="${torsoH * 0.85}" rx="${width * 0.06}" fill="${cloth}" transform="rotate(-8 ${cx + torsoW / 2} ${torsoTop})"/>
    <rect x="${cx - torsoW / 2}" y="${torsoTop}" width="${torsoW}" height="${torsoH}" rx="${torsoW / 5}" fill="${cloth}"/>
  </g>
</svg>`;
  // The body goes under the bust, whose lower edge overlaps the torso's top.
  return sharp({ create: { width, height: total, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 1 } } })
    .composite([
      { input: Buffer.from(svg), left: 0, top: 0 },
      { input: await img.png().toBuffer(), left: 0, top: 0 },
    ])
    .png()
    .toBuffer();
}
