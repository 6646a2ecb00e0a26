/** Words for the YAML parser's error codes (its own messages may quote the line, which may hold a secret). */
const PROBLEMS: Record<string, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or a tag',
  BAD_ALIAS: 'an alias names no anchor',
  BAD_COLLECTION_TYPE: 'a tag does not fit the collection',
  BAD_DIRECTIVE: 'a malformed % directive',
  BAD_DQ_ESCAPE: 'a bad escape in a double-quoted string',
  BAD_INDENT: 'bad indentation (keys of one mapping must line up; use spaces)',
  BAD_PROP_ORDER: 'anchor and tag in the wrong place',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a nested block where a key was expected',
  BLOCK_IN_FLOW: 'a block inside [ ] or { }',
  DUPLICATE_KEY: 'a key given twice in the same mapping',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: 'a closing bracket or quote is missing',
  MULTILINE_IMPLICIT_KEY: 'a key spread over several lines (is a ":" missing, or a quote not closed?)',
  MULTIPLE_ANCHORS: 'more than one anchor on a node',
  MULTIPLE_DOCS: 'more than one YAML document (---) in the file',
  MULTIPLE_TAGS: 'more than one tag on a node',
  NON_STRING_KEY: 'a key that is not a string',
  TAB_AS_INDENT: 'a tab used for indentation (use spaces)',
  TAG_RESOLVE_FAILED: 'a value does not fit its tag',
  UNEXPECTED_TOKEN: 'unexpected text here',
};

export function yamlProblem(code: string): string {
  return PROBLEMS[code] ?? 'syntax error';
}

/** A YAML parser error as the config loader sees it: its code and its [start, end) offsets. */
export interface YamlError {
  readonly code: string;
  readonly pos: readonly [number, number];
}

/** Where a YAML mistake is (1-based line and column) and what it is, in words. */
export interface YamlProblemAt {
  readonly line: number;
  readonly col: number;
  readonly problem: string;
}

/** The parser's codes for a line indented under a key that already has a value on the line above. */
const INDENTED_UNDER_VALUE = new Set(['BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY']);

/**
 * The first mistake of a failed parse, placed where a reader would fix it. The parser reports
 * a line indented too deep (`port: 8443` followed by a deeper `host: x`) at the value it takes as
 * the start of a multi-line key; the line to fix is the deeper one, so that is the one named.
 */
export function locateYamlProblem(text: string, errors: readonly YamlError[]): YamlProblemAt | undefined {
  const first = errors[0];
  if (first === undefined) return undefined;
  const start = lineCol(text, first.pos[0]);
  if (INDENTED_UNDER_VALUE.has(first.code)) {
    const end = Math.max(...errors.filter((e) => e.pos[0] === first.pos[0]).map((e) => e.pos[1]));
    const deeper = nextLineBefore(text, first.pos[0], end);
    if (deeper !== undefined) {
      return { ...deeper, problem: `a line indented deeper than the key above it, which already has a value on line ${start.line} (line up the keys of one mapping, or move the value to its own indented lines)` };
    }
  }
  return { ...start, problem: yamlProblem(first.code) };
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, col: before.length - lineStart + 1 };
}

/** The line after the one holding `from`, if it starts before `end`, at its first character. */
function nextLineBefore(text: string, from: number, end: number): { line: number; col: number } | undefined {
  const lineStart = text.indexOf('\n', from) + 1;
  if (lineStart === 0 || lineStart >= end) return undefined;
  const rest = text.slice(lineStart);
  return { ...lineCol(text, lineStart), col: rest.length - rest.replace(/^ +/, '').length + 1 };
}
