import { Controller, Get, Inject, Logger, Query, Req, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DataSource } from 'typeorm';
import {
  AUDIT_CSV_HEADER,
  AuditRepository,
  auditCsvRow,
  auditEntryJson,
  DEFAULT_AUDIT_PAGE,
  encodeAuditCursor,
  MAX_AUDIT_PAGE,
  parseAuditQuery,
  type AuditQuery,
} from '../authz';
import { ValidationError } from '../common';
import { AuditPageDto, AuditQueryDto } from './audit.dto';
import { RequirePermission } from './permissions';

@ApiTags('audit')
@Controller('v1/audit')
export class AuditController {
  private readonly logger = new Logger('admin');
  private readonly repository: AuditRepository;

  constructor(@Inject(DataSource) dataSource: DataSource) {
    this.repository = new AuditRepository(dataSource);
  }

  @Get()
  @RequirePermission('audit:read')
  @ApiOperation({
    summary: 'Lists authorization decisions, newest first',
    description:
      'JSON pages with `pageSize` and `pageToken` (the next page: `nextPageToken` of the response, empty on the last page). With `Accept: text/csv` (or `format=csv`) every matching row (or the first `maxRows`) is streamed as CSV in one response (RFC 4180, header line, cells that look like formulas prefixed with an apostrophe). `limit` is the deprecated name of `pageSize` (JSON) and `maxRows` (CSV).',
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ type: AuditPageDto, description: 'a page of entries (JSON) or every matching entry (CSV)' })
  @ApiBadRequestResponse({ description: 'a query parameter is invalid (problem+json names it in `errors[].field`)' })
  async list(@Query() query: AuditQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const csv = query.format === 'csv' || (query.format === undefined && req.accepts(['application/json', 'text/csv']) === 'text/csv');
    const parsed = parseAuditQuery(query as Record<string, unknown>, { csv });
    if (!parsed.ok) throw new ValidationError('list audit entries: invalid query', parsed.errors);
    if (csv) {
      await this.csv(parsed.query, res);
      return;
    }
    const { filter, after } = parsed.query;
    const pageSize = parsed.query.pageSize ?? DEFAULT_AUDIT_PAGE;
    const rows = await this.repository.page(filter, after, pageSize + 1);
    const entries = rows.slice(0, pageSize);
    const last = entries.at(-1);
    const body: AuditPageDto = {
      entries: entries.map(auditEntryJson),
      nextPageToken: rows.length > pageSize && last !== undefined ? encodeAuditCursor(last, filter) : '',
    };
    res.status(200).json(body);
  }

  /** Streams every matching row (or `maxRows` rows), database page by page, waiting for the client between pages. */
  private async csv(query: AuditQuery, res: Response): Promise<void> {
    const { filter } = query;
    let after = query.after;
    let remaining = query.maxRows ?? Number.POSITIVE_INFINITY;
    let rows = 0;
    try {
      while (remaining > 0 && !res.destroyed) {
        const size = Math.min(MAX_AUDIT_PAGE, remaining);
        const page = await this.repository.page(filter, after, size);
        if (!res.headersSent) {
          res.status(200);
          res.setHeader('content-type', 'text/csv; charset=utf-8; header=present');
          res.setHeader('content-disposition', 'attachment; filename="parley-audit.csv"');
          res.setHeader('cache-control', 'no-store');
          res.write(AUDIT_CSV_HEADER);
        }
        const last = page.at(-1);
        if (last === undefined) break;
        if (!res.write(page.map(auditCsvRow).join(''))) await drained(res);
        rows += page.length;
        remaining -= page.length;
        if (page.length < size) break;
        after = last;
      }
    } catch (err) {
      if (!res.headersSent) throw err;
      // Half a file must not look like a whole one: abort the response instead of ending it.
      this.logger.error({ err, rows }, 'audit CSV export failed midway; response aborted');
      res.destroy();
      return;
    }
    res.end();
  }
}

function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
