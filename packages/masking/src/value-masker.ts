import { candidates, findSpans, textStats, type Span } from './detectors/index.js';
import type { CompiledPlan } from './plan.js';
import { applyStrategy, type Hasher } from './strategies.js';

/**
 * How replacement text must be embedded in a cell's text.
 * - `Plain`: free text (text, varchar, name, xml…): replacements are spliced in as they are.
 * - `Json`: values outside string literals become JSON strings; escapes are respected.
 * - `Literal`: quoted literals (array, record, tsvector, unknown user types): a match that
 *   includes a quote or backslash would break the literal, so the whole cell becomes NULL.
 */
export const Syntax = { Plain: 0, Json: 1, Literal: 2 } as const;
export type Syntax = (typeof Syntax)[keyof typeof Syntax];

/** Masked-cell counters by key (`email`, `column:public.users.ssn`, …). */
export type Counts = Record<string, number>;

/**
 * Runs the plan's detectors over text and applies their strategies. Works on bytes through a
 * latin1 view, so untouched bytes are copied exactly (see detectors/types.ts).
 */
export class ValueMasker {
  constructor(
    private readonly plan: CompiledPlan,
    private readonly hasher: Hasher,
    private readonly counts: Counts,
  ) {}

  get enabled(): boolean {
    return this.plan.detectors.length > 0;
  }

  /**
   * Mask detected values in `buf[start, end)`. Returns undefined when nothing was found, null
   * when the cell must become NULL (a match broke out of a quoted literal), else the new bytes.
   */
  maskBytes(buf: Buffer, start: number, end: number, syntax: Syntax): Buffer | null | undefined {
    const detectors = this.plan.detectors;
    if (detectors.length === 0 || end - start < 3) return undefined;
    const mask = candidates(textStats(buf, start, end)) & this.plan.detectorMask;
    if (mask === 0) return undefined;
    const text = buf.toString('latin1', start, end);
    const spans = findSpans(text, detectors, mask);
    if (spans.length === 0) return undefined;
    const out = this.splice(text, spans, syntax);
    return out === null ? null : Buffer.from(out, 'latin1');
  }

  /**
   * Whether any detector finds a value in `buf[start, end)` (each finding is counted). For bytes
   * that cannot take a replacement in place (a binary value of unknown layout): the caller
   * withholds the whole value.
   */
  detectIn(buf: Buffer, start: number, end: number): boolean {
    const detectors = this.plan.detectors;
    if (detectors.length === 0 || end - start < 3) return false;
    const mask = candidates(textStats(buf, start, end)) & this.plan.detectorMask;
    if (mask === 0) return false;
    const spans = findSpans(buf.toString('latin1', start, end), detectors, mask);
    for (const s of spans) this.count(s.detector);
    return spans.length > 0;
  }

  /** Mask detected values in a JS string (notice fields, notification payloads). */
  maskString(s: string): string {
    const b = Buffer.from(s, 'utf8');
    const out = this.maskBytes(b, 0, b.length, Syntax.Plain);
    return out ? out.toString('utf8') : s;
  }

  private count(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  private replacement(text: string, span: Span): string {
    this.count(span.detector);
    return applyStrategy(
      this.plan.strategies[span.detector]!,
      text.slice(span.start, span.end),
      this.hasher,
      span.detector,
    );
  }

  /** Rebuild `text` with each span replaced; null = the cell must become NULL. */
  private splice(text: string, spans: readonly Span[], syntax: Syntax): string | null {
    if (syntax === Syntax.Json) return this.spliceJson(text, spans);
    if (syntax === Syntax.Literal) {
      for (const s of spans) {
        for (let i = s.start; i < s.end; i++) {
          const c = text.charCodeAt(i);
          if (c === 0x22 || c === 0x5c) {
            for (const t of spans) this.count(t.detector);
            return null;
          }
        }
      }
    }
    let out = '';
    let last = 0;
    for (const s of spans) {
      out += text.slice(last, s.start) + this.replacement(text, s);
      last = s.end;
    }
    return out + text.slice(last);
  }

  /**
   * JSON-aware splice: tracks string literals and escapes. A match inside a string is replaced
   * in place (replacements need no escaping); one that starts inside an escape sequence is moved
   * past it; one outside any string (a number) becomes a JSON string; one that crosses a quote
   * (e.g. an unterminated PEM block running to the end) turns the whole value into a JSON string.
   */
  private spliceJson(text: string, spans: readonly Span[]): string | null {
    let out = '';
    let last = 0;
    let pos = 0;
    let inString = false;
    for (let k = 0; k < spans.length; k++) {
      const span = spans[k]!;
      // Advance the scanner to the span start.
      while (pos < span.start) {
        const c = text.charCodeAt(pos);
        if (inString) {
          if (c === 0x5c) {
            pos += text.charCodeAt(pos + 1) === 0x75 ? 6 : 2;
            continue;
          }
          if (c === 0x22) inString = false;
        } else if (c === 0x22) inString = true;
        pos++;
      }
      const start = Math.max(pos, span.start);
      let end = span.end;
      // Check the span stays on its side of every quote; trim a trailing partial escape.
      for (let i = start; i < end; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x22) return this.wholeJson(spans, k);
        if (c === 0x5c && inString) {
          const len = text.charCodeAt(i + 1) === 0x75 ? 6 : 2;
          if (i + len > end) {
            end = i;
            break;
          }
          i += len - 1;
        }
      }
      if (start >= end) continue;
      const rep = this.replacement(text, { start, end, detector: span.detector });
      out += text.slice(last, start) + (inString ? rep : `"${rep}"`);
      last = end;
      pos = end;
    }
    return out + text.slice(last);
  }

  /** Count the spans not yet replaced (from `from` on) and redact the whole value. */
  private wholeJson(spans: readonly Span[], from: number): string {
    for (let k = from; k < spans.length; k++) this.count(spans[k]!.detector);
    return `"[REDACTED:${spans[from]!.detector}]"`;
  }
}
