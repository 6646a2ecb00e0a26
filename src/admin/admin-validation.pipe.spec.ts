import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { ValidationError } from '../common/error-mapping';
import { AdminValidationPipe, MAX_FIELD_ERRORS } from './admin-validation.pipe';
import { CreateRevocationDto } from './revocations.dto';
import { AuditQueryDto } from './audit.dto';
import { CreateRuleDto, ExplainDto } from './policies.dto';
import { ListRecordsQueryDto } from './records.dto';

const PULL = '/parley.store.v1.StoreService/Pull';
const RULE = { id: 'r', effect: 'allow', subjects: [{ trustDomain: 'partner.test' }], methods: [PULL] };
const pipe = new AdminValidationPipe();

async function refusal(metatype: ArgumentMetadata['metatype'], value: unknown, type: ArgumentMetadata['type'] = 'body'): Promise<ValidationError> {
  try {
    await pipe.transform(value, { type, metatype });
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('AdminValidationPipe', () => {
  it.each<[string, unknown, Array<{ field: string; message: string }>]>([
    ['an unknown field', { ...RULE, colour: 'red' }, [{ field: 'colour', message: 'unknown field' }]],
    ['an unknown field in a nested array element', { ...RULE, subjects: [{ trustDomain: 'a' }, { trustDomain: 'b', colour: 1 }] }, [{ field: 'subjects[1].colour', message: 'unknown field' }]],
    ['a wrong type in a nested array element', { ...RULE, subjects: [{ spiffeId: 7 }] }, [{ field: 'subjects[0].spiffeId', message: 'must be a string' }]],
    ['wrong elements of a string array, each at its index', { ...RULE, methods: [PULL, 42, null] }, [
      { field: 'methods[1]', message: 'must be a string' },
      { field: 'methods[2]', message: 'must be a string' },
    ]],
    ['elements of an object array that are not objects', { ...RULE, subjects: ['partner.test', null, { trustDomain: 'a' }] }, [
      { field: 'subjects[0]', message: 'must be an object' },
      { field: 'subjects[1]', message: 'must be an object' },
    ]],
    ['an array inside an object array', { ...RULE, subjects: [[{ trustDomain: 'a' }]] }, [{ field: 'subjects[0]', message: 'must be an object' }]],
    ['an empty required array', { ...RULE, methods: [] }, [{ field: 'methods', message: 'must not be empty' }]],
    ['a missing required field and a wrong enum', { effect: 'maybe', subjects: RULE.subjects, methods: [PULL] }, [
      { field: 'id', message: 'must be a non-empty string' },
      { field: 'effect', message: 'must be "allow" or "deny"' },
    ]],
    ['a negative position', { ...RULE, position: -1 }, [{ field: 'position', message: 'must be a non-negative integer' }]],
    ['keys named like Object.prototype members, nested too', { ...RULE, subjects: [{ trustDomain: 'a', constructor: 2 }], toString: 1 }, [
      { field: 'subjects[0].constructor', message: 'unknown field' },
      { field: 'toString', message: 'unknown field' },
    ]],
  ])('refuses %s with its path', async (_what, body, errors) => {
    const err = await refusal(CreateRuleDto, body);
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toBe('policy: invalid rule');
    expect(err.fieldErrors).toEqual(errors);
  });

  it.each([[[]], [null], [undefined], ['text'], [7]])('refuses a body that is not a JSON object (%j) on the whole body', async (body) => {
    expect((await refusal(CreateRevocationDto, body)).fieldErrors).toEqual([{ field: '', message: 'body must be a JSON object' }]);
  });

  it('calls the domain parsers for field checks and names the failing field, without echoing the value', async () => {
    const err = await refusal(ExplainDto, { spiffeId: 'spiffe://acme.test/a', method: 'hunter2-secret', namespace: '../etc', sourceIp: '1.2.3', at: 'soon' });
    expect(err.fieldErrors.map((e) => e.field)).toEqual(['method', 'namespace', 'sourceIp', 'at']);
    expect(JSON.stringify(err.fieldErrors)).not.toContain('hunter2');
  });

  it('requires one revocation target, and only one', async () => {
    expect((await refusal(CreateRevocationDto, { reason: 'x' })).fieldErrors).toEqual([{ field: 'spiffeId', message: 'one of spiffeId and fingerprint is required' }]);
    const both = await refusal(CreateRevocationDto, { spiffeId: 'spiffe://acme.test/a', fingerprint: 'ab'.repeat(32) });
    expect(both.fieldErrors).toEqual([{ field: 'fingerprint', message: 'give only one of spiffeId and fingerprint' }]);
  });

  it(`lists at most ${MAX_FIELD_ERRORS} problems`, async () => {
    const err = await refusal(CreateRuleDto, { ...RULE, methods: new Array(100_000).fill(1) });
    expect(err.fieldErrors).toHaveLength(MAX_FIELD_ERRORS + 1);
    expect(err.fieldErrors[MAX_FIELD_ERRORS - 1]).toEqual({ field: `methods[${MAX_FIELD_ERRORS - 1}]`, message: 'must be a string' });
    expect(err.fieldErrors.at(-1)).toEqual({ field: '', message: expect.stringContaining('more problems not listed') });
  });

  it('hands a valid body over as the DTO with only the fields given', async () => {
    const dto = await pipe.transform({ ...RULE, position: 2 }, { type: 'body', metatype: CreateRuleDto });
    expect(dto).toBeInstanceOf(CreateRuleDto);
    expect(Object.keys(dto as object).sort()).toEqual(['effect', 'id', 'methods', 'position', 'subjects']);
  });

  it('validates query strings: unknown and repeated parameters, and converts flags, numbers and lists', async () => {
    const err = await refusal(ListRecordsQueryDto, { namespce: 'a', namespace: ['a', 'b'], recursive: 'yes', pageSize: '-1', createdAfter: 'soon' }, 'query');
    expect(err.message).toBe('list records: invalid query');
    expect(err.fieldErrors).toEqual([
      { field: 'namespce', message: 'unknown query parameter' },
      { field: 'namespace', message: 'must be given at most once' },
      { field: 'recursive', message: 'must be true or false' },
      { field: 'createdAfter', message: 'must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z' },
      { field: 'pageSize', message: 'must be a non-negative integer' },
    ]);
    const dto = await pipe.transform({ namespace: 'a', recursive: 'true', pageSize: '10', annotation: 'k=v' }, { type: 'query', metatype: ListRecordsQueryDto });
    expect(dto).toEqual(Object.assign(new ListRecordsQueryDto(), { namespace: 'a', recursive: true, pageSize: 10, annotation: ['k=v'] }));
    expect((await refusal(AuditQueryDto, { decision: 'maybe', format: 'csv', toString: 'x' }, 'query')).fieldErrors).toEqual([
      { field: 'toString', message: 'unknown query parameter' },
      { field: 'decision', message: 'must be allow or deny' },
    ]);
  });
});
