/**
 * Reads a one-dimensional PostgreSQL array literal (`{"a","b\"c",NULL}`, as node-postgres
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
    } else throw new Error(`unquoted element at ${i} in ${literal}`);
    if (i < body.length) {
      if (body[i] !== ',') throw new Error(`expected , at ${i} in ${literal}`);
      i++;
    }
  }
  return out;
}
