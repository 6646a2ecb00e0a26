/**
 * Reads a one-dimensional PostgreSQL array literal (`{"a","b\"c",NULL}` or `{1,2}`, as node-postgres
 * and the audit writer send text arrays) back into its values, for database doubles.
 * @throws Error on anything else
 */
export function parseArrayLiteral(literal: unknown): Array<string | null> {
  if (typeof literal !== 'string' || !literal.startsWith('{') || !literal.endsWith('}')) throw new Error(`not an array literal: ${String(literal)}`);
  const out: Array<string | null> = [];
  const body = literal.slice(1, -1);
  let i = 0;
  while (i < body.length) {
    if (body.startsWith('NULL', i) && (i + 4 === body.length || body[i + 4] === ',')) {
      out.push(null);
      i += 4;
    } else if (body[i] === '"') {
      let value = '';
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i++;
        value += body[i];
        i++;
      }
      if (body[i] !== '"') throw new Error(`unterminated element in ${literal}`);
      out.push(value);
      i++;
    } else {
      // An unquoted element (a number): up to the next comma; no quotes or escapes in it.
      let end = body.indexOf(',', i);
      if (end === -1) end = body.length;
      const value = body.slice(i, end);
      if (value === '' || /["\\{}\s]/.test(value)) throw new Error(`bad unquoted element at ${i} in ${literal}`);
      out.push(value);
      i = end;
    }
    if (i < body.length) {
      if (body[i] !== ',') throw new Error(`expected , at ${i} in ${literal}`);
      i++;
    }
  }
  return out;
}
