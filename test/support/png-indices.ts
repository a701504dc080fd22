/** Test helper: the palette indices of an 8-bit indexed PNG (as src/report/svg/png.ts writes them, filter 0). */
import { unzlibSync } from 'fflate';

export function pngIndices(png: Uint8Array): { width: number; height: number; indices: Uint8Array } {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  while (o < png.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(o + 8);
      height = dv.getUint32(o + 12);
      if (data[8] !== 8 || data[9] !== 3) throw new Error('not an 8-bit indexed PNG');
    } else if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const joined = new Uint8Array(idat.reduce((s, d) => s + d.length, 0));
  let p = 0;
  for (const d of idat) {
    joined.set(d, p);
    p += d.length;
  }
  const raw = unzlibSync(joined);
  const indices = new Uint8Array(width * height);
  for (let r = 0; r < height; r++) {
    if (raw[r * (width + 1)] !== 0) throw new Error(`row ${r} uses PNG filter ${raw[r * (width + 1)]}`);
    indices.set(raw.subarray(r * (width + 1) + 1, (r + 1) * (width + 1)), r * width);
  }
  return { width, height, indices };
}

/** The PNG inside a `data:image/png;base64,…` URI. */
export function dataUriBytes(uri: string): Uint8Array {
  const m = /^data:image\/png;base64,(.*)$/.exec(uri);
  if (!m) throw new Error(`not a PNG data URI: ${uri.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(m[1], 'base64'));
}
