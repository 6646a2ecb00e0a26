/**
 * The audit spool's file format: one decision per line, appended while the database is away
 * and read back in order when it returns.
 *
 *     <crc32 of the JSON, 8 lowercase hex digits> <JSON object>\n
 *
 * The JSON holds `v` (format version, 1), `id` (the entry id), `at` (epoch milliseconds) and
 * the decision's fields. A line whose checksum or shape is wrong (a crash mid-write leaves a
 * torn last line; a disk may leave garbage) is skipped and reported, never fatal: the lines
 * around it are still read.
 */
import { crc32 } from 'node:zlib';
import { isEntryId } from './entry-id';

/** One decision as the spool keeps it (the fields of the gateway's AuditRecord plus its id). */
export interface SpooledDecision {
  readonly entryId: string;
  readonly at: Date;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly sourceAddress: string;
  readonly method: string;
  readonly namespace?: string;
  readonly decision: 'allow' | 'deny';
  readonly rule?: string;
  readonly reason: string;
  readonly dryRunDenied?: readonly string[];
}

/** Why a line was skipped: `torn` = the file's last line has no newline (a crash while writing). */
export type SpoolLineProblem = 'torn' | 'too long' | 'bad checksum' | 'not json' | 'not an entry';

export interface SpoolChunk {
  readonly entries: SpooledDecision[];
  /** Bytes of the chunk consumed (whole lines, skipped ones included); the next read starts here. */
  readonly consumed: number;
  /** Skipped lines: byte offset within the chunk and why. */
  readonly skipped: Array<{ readonly offset: number; readonly problem: SpoolLineProblem }>;
}

/** Longest line the spool writes or reads; a decision that would be longer is cut to fit. */
export const MAX_SPOOL_LINE_BYTES = 256 * 1024;
const FORMAT_VERSION = 1;
const NEWLINE = 0x0a;
/** What is kept of each text field of an over-long entry, and of its dry-run rules. */
const CUT_TEXT = 1024;
const CUT_RULES = 8;

/** The line (with its newline) that stores `entry`. */
export function encodeSpoolLine(entry: SpooledDecision): Buffer {
  const line = lineOf(entry);
  if (line.length <= MAX_SPOOL_LINE_BYTES) return line;
  const cut = (s: string | undefined) => (s === undefined ? undefined : s.slice(0, CUT_TEXT));
  return lineOf({
    ...entry,
    spiffeId: cut(entry.spiffeId)!,
    trustDomain: cut(entry.trustDomain)!,
    sourceAddress: cut(entry.sourceAddress)!,
    method: cut(entry.method)!,
    namespace: cut(entry.namespace),
    rule: cut(entry.rule),
    reason: cut(entry.reason)!,
    dryRunDenied: entry.dryRunDenied?.slice(0, CUT_RULES).map((r) => r.slice(0, CUT_TEXT)),
  });
}

function lineOf(e: SpooledDecision): Buffer {
  const json = JSON.stringify({
    v: FORMAT_VERSION,
    id: e.entryId,
    at: e.at.getTime(),
    spiffeId: e.spiffeId,
    trustDomain: e.trustDomain,
    sourceAddress: e.sourceAddress,
    method: e.method,
    namespace: e.namespace,
    decision: e.decision,
    rule: e.rule,
    reason: e.reason,
    dryRunDenied: e.dryRunDenied !== undefined && e.dryRunDenied.length > 0 ? e.dryRunDenied : undefined,
  });
  const body = Buffer.from(json, 'utf8');
  const head = Buffer.from(`${checksum(body)} `, 'latin1');
  return Buffer.concat([head, body, Buffer.of(NEWLINE)]);
}

/**
 * Reads whole lines from `chunk` (bytes of the spool from some line start), at most
 * `maxEntries` entries. `atEnd` says the chunk reaches the end of the file: a last line
 * without a newline is then torn and skipped; otherwise it is left for the next read (unless
 * it is already longer than any line can be).
 */
export function decodeSpoolChunk(chunk: Buffer, atEnd: boolean, maxEntries: number = Number.MAX_SAFE_INTEGER): SpoolChunk {
  const entries: SpooledDecision[] = [];
  const skipped: Array<{ offset: number; problem: SpoolLineProblem }> = [];
  let start = 0;
  while (start < chunk.length && entries.length < maxEntries) {
    const end = nextNewline(chunk, start);
    if (end < 0) {
      const rest = chunk.length - start;
      if (atEnd) skipped.push({ offset: start, problem: 'torn' });
      else if (rest > MAX_SPOOL_LINE_BYTES) skipped.push({ offset: start, problem: 'too long' });
      else break;
      start = chunk.length;
      break;
    }
    const decoded = end - start > MAX_SPOOL_LINE_BYTES ? ('too long' as const) : decodeSpoolLine(chunk.subarray(start, end));
    if (typeof decoded === 'string') skipped.push({ offset: start, problem: decoded });
    else entries.push(decoded);
    start = end + 1;
  }
  return { entries, consumed: start, skipped };
}

/** One line without its newline: the entry, or why it is not one. */
export function decodeSpoolLine(line: Buffer): SpooledDecision | SpoolLineProblem {
  if (line.length < 10 || line[8] !== 0x20) return 'bad checksum';
  const body = line.subarray(9);
  if (line.subarray(0, 8).toString('latin1') !== checksum(body)) return 'bad checksum';
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return 'not json';
  }
  return entryOf(value) ?? 'not an entry';
}

function entryOf(value: unknown): SpooledDecision | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const texts = [v.spiffeId, v.trustDomain, v.sourceAddress, v.method, v.reason];
  if (v.v !== FORMAT_VERSION || !isEntryId(v.id) || typeof v.at !== 'number' || !Number.isFinite(v.at)) return undefined;
  if (!texts.every((t) => typeof t === 'string') || (v.decision !== 'allow' && v.decision !== 'deny')) return undefined;
  if (!optionalString(v.namespace) || !optionalString(v.rule)) return undefined;
  const dry = v.dryRunDenied;
  if (dry !== undefined && !(Array.isArray(dry) && dry.every((r) => typeof r === 'string'))) return undefined;
  const at = new Date(v.at);
  if (!Number.isFinite(at.getTime())) return undefined;
  return {
    entryId: v.id,
    at,
    spiffeId: v.spiffeId as string,
    trustDomain: v.trustDomain as string,
    sourceAddress: v.sourceAddress as string,
    method: v.method as string,
    namespace: v.namespace as string | undefined,
    decision: v.decision,
    rule: v.rule as string | undefined,
    reason: v.reason as string,
    dryRunDenied: dry as string[] | undefined,
  };
}

/** Offset of the next newline at or after `from`, or -1. */
function nextNewline(chunk: Buffer, from: number): number {
  for (let i = from; i < chunk.length; i++) if (chunk[i] === NEWLINE) return i;
  return -1;
}

function optionalString(v: unknown): boolean {
  return v === undefined || typeof v === 'string';
}

function checksum(body: Buffer): string {
  return (crc32(body) >>> 0).toString(16).padStart(8, '0');
}
