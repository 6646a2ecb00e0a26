import YAML from 'yaml';
import { locateYamlProblem } from './yaml-problem';

const locate = (text: string) => locateYamlProblem(text, YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true }).errors);

describe('locateYamlProblem', () => {
  it('names the line indented too deep, not the value above it', () => {
    const at = locate('grpc:\n  port: 8443\n    host: x\n');
    expect(at).toEqual({ line: 3, col: 5, problem: expect.stringContaining('already has a value on line 2') });
  });

  it('names the deeper line also for a top-level key and a value broken over lines', () => {
    expect(locate('a: b\n  c: d\n')).toMatchObject({ line: 2, col: 3 });
    expect(locate('grpc:\n  port:\n    8443\n   x: 1\n')).toMatchObject({ line: 4, col: 4 });
  });

  it('keeps the parser position for other mistakes', () => {
    expect(locate('grpc:\n  port: 8443\n host: x\n')).toEqual({ line: 3, col: 1, problem: expect.stringMatching(/^bad indentation/) });
    expect(locate('ops:\n  port: 1\n  port: 2\n')).toEqual({ line: 3, col: 3, problem: 'a key given twice in the same mapping' });
  });

  it('is undefined for a document that parses', () => {
    expect(locate('grpc:\n  port: 8443\n')).toBeUndefined();
  });

  it('never quotes the source', () => {
    const at = locate('db:\n  url: postgres://u:hunter2@h\n    extra: 1\n');
    expect(JSON.stringify(at)).not.toContain('hunter2');
  });
});
