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
