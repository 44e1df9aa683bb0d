/**
 * Rebuild a (validated) DataRow with the cells at indexes `changed` replaced: one allocation,
 * unchanged stretches (length words included) copied in one piece each.
 */
export function reframe(frame: Buffer, n: number, changed: number[], replacements: (Buffer | null)[]): Buffer {
  // Locate the changed cells: [start of length word, end of cell) in the old frame.
  const spans = new Array<number>(changed.length * 2);
  let delta = 0;
  let pos = 7;
  let k = 0;
  for (let i = 0; i < n && k < changed.length; i++) {
    const len = frame.readInt32BE(pos);
    const end = pos + 4 + (len < 0 ? 0 : len);
    if (i === changed[k]) {
      spans[2 * k] = pos;
      spans[2 * k + 1] = end;
      const r = replacements[k]!;
      delta += (r === null ? 0 : r.length) - (len < 0 ? 0 : len);
      k++;
    }
    pos = end;
  }
  const out = Buffer.allocUnsafe(frame.length + delta);
  frame.copy(out, 0, 0, 7);
  out.writeInt32BE(frame.length + delta - 1, 1);
  let from = 7;
  let to = 7;
  for (k = 0; k < changed.length; k++) {
    to += frame.copy(out, to, from, spans[2 * k]);
    const r = replacements[k]!;
    if (r === null) {
      out.writeInt32BE(-1, to);
      to += 4;
    } else {
      out.writeInt32BE(r.length, to);
      to += 4 + r.copy(out, to + 4);
    }
    from = spans[2 * k + 1]!;
  }
  frame.copy(out, to, from);
  return out;
}
