import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { PolicyEntry, PolicyStatus } from '../authz';
import type { RuleProblem } from '../authz';

/** One subject: exactly one of the three fields. */
export class SubjectDto {
  @ApiPropertyOptional({ description: 'exact trust domain name, or the keywords own | federated | any', example: 'partner.example' }) trustDomain?: string;
  @ApiPropertyOptional({ description: 'exactly this SPIFFE ID', example: 'spiffe://partner.example/ns/ml/sa/puller' }) spiffeId?: string;
  @ApiPropertyOptional({ description: 'this SPIFFE ID or any ID below it on / boundaries', example: 'spiffe://partner.example/ns/ml' }) spiffeIdPrefix?: string;
}

export class RuleDto {
  @ApiProperty({ description: 'unique rule id', example: 'partner-pull' }) id!: string;
  @ApiProperty({ enum: ['allow', 'deny'], description: 'deny overrides allow; no matching allow means deny' }) effect!: 'allow' | 'deny';
  @ApiProperty({ type: [SubjectDto], description: 'who the rule is about (any one matches)' }) subjects!: SubjectDto[];
  @ApiProperty({ type: [String], description: 'full methods `/pkg.Service/Method`, `/pkg.Service/*` or `*` (served methods only)', example: ['/parley.store.v1.StoreService/Pull'] })
  methods!: string[];
  @ApiPropertyOptional({ type: [String], description: 'the call must be in one of these namespaces (or below)', example: ['shared/models'] }) namespaces?: string[];
  @ApiPropertyOptional({ type: [String], description: 'the caller address must lie in one of these CIDR blocks', example: ['203.0.113.0/24'] }) sourceCidrs?: string[];
  @ApiPropertyOptional({ format: 'date-time', description: 'RFC 3339; the rule is ignored from then on' }) expiresAt?: string;
  @ApiPropertyOptional() description?: string;
  @ApiPropertyOptional({ description: 'deny rules only: report matches (dryRunDenied) instead of denying' }) dryRun?: boolean;
}

export class CreateRuleDto extends RuleDto {
  @ApiPropertyOptional({ description: 'index in the whole list (0 = first; config-declared rules always come first); default last', minimum: 0 }) position?: number;
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

export class ExplainDto {
  @ApiProperty({ example: 'spiffe://partner.example/ns/ml/sa/puller' }) spiffeId!: string;
  @ApiProperty({ example: '/parley.store.v1.StoreService/Pull' }) method!: string;
  @ApiPropertyOptional({ example: 'shared/models' }) namespace?: string;
  @ApiPropertyOptional({ example: '203.0.113.7' }) sourceIp?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'decide as of this instant (default now)' }) at?: string;
}

export class ExplanationDto {
  @ApiProperty() allowed!: boolean;
  @ApiPropertyOptional({ description: 'the deciding rule id' }) rule?: string;
  @ApiProperty({ example: 'allowed by rule "partner-pull"' }) reason!: string;
  @ApiProperty({ type: [String], description: 'dry-run deny rules that matched' }) dryRunDenied!: string[];
  @ApiProperty({ description: 'policy version decided with' }) version!: number;
}

export class CasbinImportRequestDto {
  @ApiProperty({ description: 'Directory policy CSV (`p, <trust domain>, <method>` lines)', example: 'p, partner.example, /parley.store.v1.StoreService/Pull\n' }) csv!: string;
  @ApiProperty({ enum: ['append', 'replace'], description: 'append to the rules, or replace every rule that is not config-declared' }) mode!: 'append' | 'replace';
  @ApiPropertyOptional({ description: 'report only, change nothing' }) dryRun?: boolean;
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
