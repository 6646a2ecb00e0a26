import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { SecuritySchemeObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { VERSION } from '../common';
import { MTLS_SECURITY_SCHEME } from './permissions';

/** Builds the OpenAPI document from the controllers and serves it at /openapi.json, with docs at /docs. */
export function mountOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Parley admin API')
    .setDescription('Operate a Parley gateway. Every call needs mutual TLS with an X509-SVID listed in admin.admins.')
    .setVersion(VERSION)
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // mutualTLS security schemes exist from OpenAPI 3.1 on; this simple document is valid 3.1.
  document.openapi = '3.1.0';
  document.components = { ...document.components, securitySchemes: { [MTLS_SECURITY_SCHEME]: { type: 'mutualTLS', description: 'X509-SVID of an admin SPIFFE ID' } as unknown as SecuritySchemeObject } };
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
}
