import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { parseFullMethod, parseIp } from '../authz';
import type { PolicyEntry, PolicyStatus } from '../authz';
import type { RuleProblem } from '../authz';
import { namespaceTextError, RFC3339_MESSAGE, rfc3339Error, spiffeIdError } from './admin-checks';
import { Flag, Integer, JsonBody, ObjectList, Text, TextList } from './admin-fields';

/** Largest Casbin CSV accepted by the import (characters). */
export const MAX_CASBIN_CSV = 1_000_000;

// Request bodies declare the JSON shape of a rule; what the strings mean (SPIFFE IDs, methods
// served, CIDRs, namespaces, one subject kind, dry run on deny rules only) is judged by the
// policy engine (validateRules), the one rule validator the config file and the CLI share,
// so it reports every such problem of a rule at once.

/** One subject: exactly one of the three fields. */
export class SubjectDto {
  @Text({ doc: { description: 'exact trust domain name, or the keywords own | federated | any', example: 'partner.example' }, optional: true, message: 'must be a string' })
  trustDomain?: string;
  @Text({ doc: { description: 'exactly this SPIFFE ID', example: 'spiffe://partner.example/ns/ml/sa/puller' }, optional: true, message: 'must be a string' }) spiffeId?: string;
  @Text({ doc: { description: 'this SPIFFE ID or any ID below it on / boundaries', example: 'spiffe://partner.example/ns/ml' }, optional: true, message: 'must be a string' })
  spiffeIdPrefix?: string;
}

export class RuleDto {
  @Text({ doc: { description: 'unique rule id', example: 'partner-pull' }, message: 'must be a non-empty string', nonEmpty: true }) id!: string;
  @Text({ doc: { description: 'deny overrides allow; no matching allow means deny' }, enum: ['allow', 'deny'], message: 'must be "allow" or "deny"' }) effect!: 'allow' | 'deny';
  @ObjectList(SubjectDto, { doc: { description: 'who the rule is about (any one matches)' }, message: 'must be an array', nonEmpty: 'must not be empty', itemMessage: 'must be an object' })
  subjects!: SubjectDto[];
  @TextList({
    doc: { description: 'full methods `/pkg.Service/Method`, `/pkg.Service/*` or `*` (served methods only)', example: ['/parley.store.v1.StoreService/Pull'] },
    message: 'must be an array',
    nonEmpty: 'must not be empty',
  })
  methods!: string[];
  @TextList({ doc: { description: 'the call must be in one of these namespaces (or below)', example: ['shared/models'] }, optional: true, message: 'must be an array', nonEmpty: 'must not be empty when present' })
  namespaces?: string[];
  @TextList({ doc: { description: 'the caller address must lie in one of these CIDR blocks', example: ['203.0.113.0/24'] }, optional: true, message: 'must be an array', nonEmpty: 'must not be empty when present' })
  sourceCidrs?: string[];
  @Text({ doc: { format: 'date-time', description: 'RFC 3339; the rule is ignored from then on' }, optional: 'or-null', message: RFC3339_MESSAGE, check: rfc3339Error }) expiresAt?: string;
  @Text({ optional: true, message: 'must be a string' }) description?: string;
  @Flag({ doc: { description: 'deny rules only: report matches (dryRunDenied) instead of denying' }, optional: true, message: 'must be a boolean' }) dryRun?: boolean;
}

/** Body of `POST /v1/policies`. */
@JsonBody('policy: invalid rule')
export class CreateRuleDto extends RuleDto {
  @Integer({ doc: { description: 'index in the whole list (0 = first; config-declared rules always come first); default last' }, optional: true, minimum: 0, message: 'must be a non-negative integer' })
  position?: number;
}

/** Body of `PUT /v1/policies/{id}`: the rule, `id` optional (the path names it). */
@JsonBody('policy: invalid rule')
export class ReplaceRuleDto extends OmitType(RuleDto, ['id'] as const) {
  @Text({ doc: { description: 'the id of the path, if given' }, optional: true, message: 'must be a non-empty string', nonEmpty: true }) id?: string;
}

export class RuleProblemDto {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'field within the rule', example: 'methods[0]' }) field!: string;
  @ApiProperty() message!: string;
  @ApiProperty({ enum: ['method dropped', 'rule skipped', 'deny all'] }) action!: string;
}

export class PolicyEntryDto {
  @ApiProperty({ description: 'index in rule order (the reported deciding rule is the first matching one)' }) position!: number;
  @ApiProperty({ enum: ['seed', 'api', 'config'], description: 'config rules are declared in authz.policy.rules and read-only here' }) source!: string;
  @ApiProperty({ description: 'SPIFFE ID of the admin who created it, or migration / config' }) createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ type: RuleDto }) rule!: RuleDto;
  @ApiPropertyOptional({ type: [RuleProblemDto], description: 'why (part of) this stored rule is not in force' }) problems?: RuleProblemDto[];
}

export class PolicyListDto {
  @ApiProperty({ description: 'policy version (bumped by every change)' }) version!: number;
  @ApiProperty({ type: [PolicyEntryDto] }) rules!: PolicyEntryDto[];
  @ApiProperty({ type: [String], description: 'served methods no allow rule reaches' }) unreachable!: string[];
  @ApiPropertyOptional({ description: 'set when a malformed stored deny rule makes the policy deny everything' }) denyAll?: string;
}

/** Body of `POST /v1/policies:explain`: a hypothetical call (whether the method is served is checked with the policy). */
@JsonBody('explain: invalid request')
export class ExplainDto {
  @Text({ doc: { example: 'spiffe://partner.example/ns/ml/sa/puller' }, message: 'must be a non-empty string', nonEmpty: true, check: spiffeIdError }) spiffeId!: string;
  @Text({ doc: { example: '/parley.store.v1.StoreService/Pull' }, message: 'must be a non-empty string', nonEmpty: true, check: (s) => (parseFullMethod(s) === undefined ? 'must be a full method name "/pkg.Service/Method"' : undefined) })
  method!: string;
  @Text({ doc: { example: 'shared/models' }, optional: true, message: 'must be a non-empty string', nonEmpty: true, check: namespaceTextError }) namespace?: string;
  @Text({ doc: { example: '203.0.113.7' }, optional: true, message: 'must be a non-empty string', nonEmpty: true, check: (s) => (parseIp(s) === undefined ? 'must be an IPv4 or IPv6 address' : undefined) })
  sourceIp?: string;
  @Text({ doc: { format: 'date-time', description: 'decide as of this instant (default now)' }, optional: true, message: 'must be a non-empty string', nonEmpty: true, check: rfc3339Error }) at?: string;
}

export class ExplanationDto {
  @ApiProperty() allowed!: boolean;
  @ApiPropertyOptional({ description: 'the deciding rule id' }) rule?: string;
  @ApiProperty({ example: 'allowed by rule "partner-pull"' }) reason!: string;
  @ApiProperty({ type: [String], description: 'dry-run deny rules that matched' }) dryRunDenied!: string[];
  @ApiProperty({ description: 'policy version decided with' }) version!: number;
  @ApiProperty({ description: "whether this gateway holds a bundle of the caller's trust domain (without one, its workloads fail the handshake before any policy applies)" }) bundleHeld!: boolean;
  @ApiPropertyOptional({ description: 'set when bundleHeld is false: what that means and how to fix it' }) warning?: string;
}

/** Body of `POST /v1/policies:import-casbin`. */
@JsonBody('import casbin policy: invalid request')
export class CasbinImportRequestDto {
  @Text({
    doc: { description: 'Directory policy CSV (`p, <trust domain>, <method>` lines)', example: 'p, partner.example, /parley.store.v1.StoreService/Pull\n' },
    message: 'must be a string',
    maxLength: { max: MAX_CASBIN_CSV, message: `must be at most ${MAX_CASBIN_CSV} characters` },
  })
  csv!: string;
  @Text({ doc: { description: 'append to the rules, or replace every rule that is not config-declared' }, enum: ['append', 'replace'], message: 'must be "append" or "replace"' }) mode!: 'append' | 'replace';
  @Flag({ doc: { description: 'report only, change nothing' }, optional: true, message: 'must be a boolean' }) dryRun?: boolean;
}

export class CasbinLineDto {
  @ApiProperty() line!: number;
  @ApiProperty() text!: string;
  @ApiProperty({ enum: ['imported', 'differs', 'skipped', 'error'] }) status!: string;
  @ApiPropertyOptional() message?: string;
  @ApiPropertyOptional() ruleId?: string;
}

export class CasbinImportReportDto {
  @ApiProperty({ type: [RuleDto] }) rules!: RuleDto[];
  @ApiProperty({ type: [CasbinLineDto] }) lines!: CasbinLineDto[];
  @ApiProperty({ description: 'whether the rules were written' }) applied!: boolean;
  @ApiProperty({ description: 'policy version after the import' }) version!: number;
}

export function toPolicyEntryDto(e: PolicyEntry): PolicyEntryDto {
  const dto: PolicyEntryDto = {
    position: e.position,
    source: e.source,
    createdBy: e.createdBy,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
    rule: e.rule as RuleDto,
  };
  if (e.problems !== undefined) dto.problems = e.problems.map((p: RuleProblem) => ({ ...p }));
  return dto;
}

export function toPolicyListDto(entries: readonly PolicyEntry[], status: PolicyStatus): PolicyListDto {
  const dto: PolicyListDto = { version: status.version, rules: entries.map(toPolicyEntryDto), unreachable: [...status.unreachable] };
  if (status.denyAll !== undefined) dto.denyAll = status.denyAll;
  return dto;
}
