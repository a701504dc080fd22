import { writeFileSync } from 'node:fs';

/** Writes a safetensors file (F32 or F64 tensors). */
export function writeSafetensors(
  path: string,
  tensors: { name: string; shape: number[]; data: Float32Array | Float64Array }[],
): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = {
      dtype: t.data instanceof Float64Array ? 'F64' : 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(
    path,
    Buffer.concat([
      head,
      Buffer.from(json),
      ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
    ]),
  );
}
