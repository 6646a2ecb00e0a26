import { Body, Controller, Delete, Get, HttpCode, Inject, Logger, Param, Post, Put, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { casbinIdConflicts, importCasbinPolicy } from '../authz';
import { parseRfc3339, type DecisionRequest, type FieldError, type Rule } from '../authz';
import { ruleFromJson, ruleToJson } from '../authz';
import { PolicyStore } from '../authz';
import { ValidationError } from '../common';
import { ParleyError } from '../common';
import { SpiffeId } from '../spiffe';
import { TrustStore } from '../trust';
import { PeerRegistry } from './peer-registry';
import { RequirePermission } from './permissions';
import {
  CasbinImportReportDto,
  CasbinImportRequestDto,
  CreateRuleDto,
  ExplainDto,
  ExplanationDto,
  PolicyEntryDto,
  PolicyListDto,
  ReplaceRuleDto,
  toPolicyEntryDto,
  toPolicyListDto,
} from './policies.dto';

/**
 * `/v1/policies`: the authorization rules every gRPC call is decided by. Changes are atomic,
 * validated as a whole against the served methods, and in force on every replica within
 * about a second. The custom methods (`:explain`, `:import-casbin`) are escaped for the
 * router (path-to-regexp reads a bare `:` as a parameter).
 */
@ApiTags('policies')
@Controller()
export class PoliciesController {
  private readonly logger = new Logger('admin');

  constructor(
    @Inject(PolicyStore) private readonly store: PolicyStore,
    @Inject(PeerRegistry) private readonly peers: PeerRegistry,
    @Inject(TrustStore) private readonly trust: TrustStore,
  ) {}

  @Get('v1/policies')
  @RequirePermission('policies:read')
  @ApiOperation({ summary: 'Lists the rules in order, with their source and the policy version' })
  @ApiOkResponse({ type: PolicyListDto })
  list(): PolicyListDto {
    return toPolicyListDto(this.store.entries(), this.store.status());
  }

  @Post('v1/policies\\:explain')
  @HttpCode(200)
  @RequirePermission('policies:read')
  @ApiOperation({ summary: 'Decides a hypothetical call with the current policy and says which rule decided' })
  @ApiOkResponse({ type: ExplanationDto })
  @ApiBadRequestResponse({ description: 'invalid input (problem+json names the field in `errors[].field`)' })
  explain(@Body() body: ExplainDto): ExplanationDto {
    const request = decisionRequestOf(body, this.store);
    const d = this.store.explain(request);
    // The policy decides calls, but only a trust domain whose bundle is held here gets through the handshake.
    const td = request.id.trustDomain;
    const bundleHeld = this.trust.get(td) !== undefined;
    const warning = bundleHeld ? undefined : `this gateway holds no bundle of ${td.name}: its workloads cannot connect yet, whatever the policy says (federate it: parley admin federation add ${td.name} …)`;
    return { allowed: d.allowed, ...(d.rule === undefined ? {} : { rule: d.rule }), reason: d.reason, dryRunDenied: d.dryRunDenied ?? [], version: d.version, bundleHeld, ...(warning === undefined ? {} : { warning }) };
  }

  @Post('v1/policies\\:import-casbin')
  @HttpCode(200)
  @RequirePermission('policies:write')
  @ApiOperation({
    summary: 'Imports a Directory (Casbin CSV) policy as exact allow rules and reports every line whose meaning differs',
    description: 'Nothing is written when dryRun is set or when a line cannot be imported (status error); otherwise the rules are appended, or replace every rule that is not config-declared, in one change.',
  })
  @ApiOkResponse({ type: CasbinImportReportDto })
  @ApiBadRequestResponse({ description: 'invalid body, a line that cannot be imported, or rules that do not validate' })
  async importCasbin(@Body() input: CasbinImportRequestDto, @Req() req: Request): Promise<CasbinImportReportDto> {
    const report = importCasbinPolicy(input.csv, { ownTrustDomain: this.store.current().ownTrustDomain.name, registry: this.store.registry });
    const failed = report.lines.filter((l) => l.status === 'error');
    let applied = false;
    if (!input.dryRun) {
      if (failed.length > 0) {
        throw new ValidationError('import casbin policy: lines cannot be imported (nothing written)', failed.map((l) => ({ field: `csv:${l.line}`, message: l.message ?? 'cannot be imported' })));
      }
      const kept = this.store.entries().filter((e) => input.mode !== 'replace' || e.source === 'config');
      const conflicts = casbinIdConflicts(report, kept, input.mode === 'replace' ? 'replace' : 'append');
      if (conflicts.length > 0) throw new ValidationError('import casbin policy: rule ids already in use (nothing written)', conflicts);
      const actor = this.actorOf(req);
      if (input.mode === 'replace') await this.store.replaceAll(report.rules, { actor });
      else await this.store.addAll(report.rules, { actor });
      applied = true;
      this.logger.log({ by: actor, mode: input.mode, rules: report.rules.length, version: this.store.version }, 'casbin policy imported');
    }
    return { rules: report.rules.map(ruleToJson), lines: report.lines.map((l) => ({ ...l })), applied, version: this.store.version };
  }

  @Get('v1/policies/:id')
  @RequirePermission('policies:read')
  @ApiOperation({ summary: 'One rule with its metadata' })
  @ApiParam({ name: 'id', example: 'default-federated' })
  @ApiOkResponse({ type: PolicyEntryDto })
  @ApiNotFoundResponse({ description: 'no rule has this id' })
  get(@Param('id') id: string): PolicyEntryDto {
    return toPolicyEntryDto(this.entry(id));
  }

  @Post('v1/policies')
  @RequirePermission('policies:write')
  @ApiOperation({ summary: 'Adds a rule (last, or at `position`)' })
  @ApiCreatedResponse({ type: PolicyEntryDto })
  @ApiBadRequestResponse({ description: 'invalid rule, duplicate id, unknown method… (problem+json names the field); nothing is changed' })
  async create(@Body() body: CreateRuleDto, @Req() req: Request): Promise<PolicyEntryDto> {
    const { position, ...raw } = body;
    const rule = parseRule(raw);
    const actor = this.actorOf(req);
    await this.store.add(rule, { actor, ...(position === undefined ? {} : { position }) });
    this.logger.log({ rule: rule.id, by: actor, version: this.store.version }, 'policy rule added');
    return toPolicyEntryDto(this.entry(rule.id));
  }

  @Put('v1/policies/:id')
  @RequirePermission('policies:write')
  @ApiOperation({ summary: 'Replaces a rule (same position); `id` in the body may be left out' })
  @ApiParam({ name: 'id' })
  @ApiOkResponse({ type: PolicyEntryDto })
  @ApiBadRequestResponse({ description: 'invalid rule (problem+json names the field); nothing is changed' })
  @ApiNotFoundResponse({ description: 'no rule has this id' })
  @ApiConflictResponse({ description: 'the rule is declared in the config file' })
  async replace(@Param('id') id: string, @Body() body: ReplaceRuleDto, @Req() req: Request): Promise<PolicyEntryDto> {
    const rule = parseRule({ id, ...body });
    const actor = this.actorOf(req);
    await this.store.update(id, rule, { actor });
    this.logger.log({ rule: id, by: actor, version: this.store.version }, 'policy rule replaced');
    return toPolicyEntryDto(this.entry(id));
  }

  @Delete('v1/policies/:id')
  @HttpCode(204)
  @RequirePermission('policies:write')
  @ApiOperation({ summary: 'Removes a rule' })
  @ApiParam({ name: 'id' })
  @ApiNoContentResponse({ description: 'removed' })
  @ApiNotFoundResponse({ description: 'no rule has this id' })
  @ApiConflictResponse({ description: 'the rule is declared in the config file' })
  async remove(@Param('id') id: string, @Req() req: Request): Promise<void> {
    const actor = this.actorOf(req);
    await this.store.remove(id, { actor });
    this.logger.log({ rule: id, by: actor, version: this.store.version }, 'policy rule removed');
  }

  private entry(id: string) {
    const e = this.store.entries().find((x) => x.id === id);
    if (e === undefined) throw new ParleyError('not_found', `policy: no rule "${id}"`, { details: { rule: id } });
    return e;
  }

  private actorOf(req: Request): string {
    return this.peers.get(req.socket)?.id.toString() ?? 'unknown';
  }
}

/** A rule from a request body (validated as part of the whole policy by the store). */
function parseRule(raw: object): Rule {
  const errors: FieldError[] = [];
  const rule = ruleFromJson(raw, '', errors);
  if (rule === undefined || errors.length > 0) throw new ValidationError('policy: invalid rule', errors);
  return rule;
}

/** The explain body (validated by its DTO) as a DecisionRequest; the method must be served. @throws ValidationError */
export function decisionRequestOf(body: ExplainDto, store: Pick<PolicyStore, 'registry'>): DecisionRequest {
  if (!store.registry.has(body.method)) throw new ValidationError('explain: invalid request', [{ field: 'method', message: 'unknown method (not served)' }]);
  const at = body.at === undefined ? undefined : parseRfc3339(body.at);
  return {
    id: SpiffeId.parse(body.spiffeId),
    method: body.method,
    ...(body.namespace === undefined ? {} : { namespace: body.namespace }),
    ...(body.sourceIp === undefined ? {} : { sourceIp: body.sourceIp }),
    ...(at === undefined ? {} : { now: at }),
  };
}
