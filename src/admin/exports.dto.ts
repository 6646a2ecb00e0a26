import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, ValidateNested } from 'class-validator';
import { Check, isJsonObject, JsonBody, Text, TextList } from './admin-fields';

const PARTNER_KINDS = 'exactly one of trustDomain, spiffeId, spiffeIdPrefix';

/** Who an export is for: one of a partner trust domain, an exact SPIFFE ID, an ID path prefix. */
export class ExportPartnerDto {
  @Text({ doc: { description: 'a partner trust domain name', example: 'partner.example' }, optional: true, message: 'must be a trust domain name' }) trustDomain?: string;
  @Text({ doc: { description: 'an exact SPIFFE ID', example: 'spiffe://partner.example/parley/gateway' }, optional: true, message: 'must be a SPIFFE ID' }) spiffeId?: string;
  @Text({ doc: { description: 'a SPIFFE ID path prefix, matched on `/` boundaries', example: 'spiffe://partner.example/ns/ml' }, optional: true, message: 'must be a SPIFFE ID' }) spiffeIdPrefix?: string;
}

/** Body of `PUT /v1/exports/{id}`. What the values mean (names, namespaces, actions) is judged by the export rules, with field paths. */
@JsonBody('export: invalid definition')
export class ExportBodyDto {
  @Text({ doc: { description: 'the id of the path, if given' }, optional: true, message: 'must be the export id of the path' }) id?: string;
  @ApiProperty({ type: ExportPartnerDto, description: PARTNER_KINDS })
  @IsObject({ message: `must be an object with ${PARTNER_KINDS}` })
  @ValidateNested()
  @Type(() => ExportPartnerDto)
  partner!: ExportPartnerDto;
  @TextList({ doc: { description: 'record namespaces, each with everything below it', example: ['ml/shared'] }, message: 'must be an array of namespaces' }) namespaces!: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'every pair must be on a record for it to be exported', example: { stage: 'released' } })
  @Check('annotations', (v) => (v === undefined || (isJsonObject(v) && Object.values(v).every((x) => typeof x === 'string')) ? undefined : 'must be an object of string values'))
  annotations?: Record<string, string>;
  @TextList({ doc: { description: 'read actions granted: list, lookup, pull, pull_referrer', example: ['list', 'lookup', 'pull', 'pull_referrer'] }, message: 'must be an array of actions' }) actions!: string[];
  @Text({ doc: { description: 'what it is for (shown in listings)' }, optional: true, message: 'must be a string' }) description?: string;
}

export class ExportDto {
  @ApiProperty({ example: 'ml-shared' }) id!: string;
  @ApiProperty({ type: ExportPartnerDto }) partner!: ExportPartnerDto;
  @ApiProperty({ type: [String], example: ['ml/shared'] }) namespaces!: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } }) annotations?: Record<string, string>;
  @ApiProperty({ type: [String], example: ['list', 'lookup', 'pull', 'pull_referrer'] }) actions!: string[];
  @ApiPropertyOptional() description?: string;
  @ApiProperty({ description: 'SPIFFE ID of the operator who created it' }) createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class ExportListDto {
  @ApiProperty({ type: [ExportDto], description: 'by id; a partner no export names is given nothing' }) exports!: ExportDto[];
}
