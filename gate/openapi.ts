import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { version } from '../package.json';
import { API_KEY_HEADER, contractSchemas, routes, type ResponseContract, type RouteContract } from './contract';

/**
 * The OpenAPI 3.1 document of the gate, generated from gate/contract.ts (zod 4's toJSONSchema: OpenAPI
 * 3.1 schemas are JSON Schema 2020-12). The gate serves it at GET /openapi.json; gate/openapi.json is
 * the committed copy (`npm run openapi` rewrites it; test/gate/openapi.test.ts fails when it differs).
 *
 *   node bin/run-ts.js gate/openapi.ts [--check]
 */

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

type Json = Record<string, unknown>;

const COMPONENT_REF = (id: string) => `#/components/schemas/${id}`;

/** The document's own header lines go: a component is a Schema Object, not a schema resource. */
function bare(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/** A named schema by reference, any other inline. Requests are described as the gate accepts them, answers as a client may parse them. */
function schemaOf(schema: z.ZodType): Json {
  const id = contractSchemas.get(schema)?.id;
  if (id) return { $ref: COMPONENT_REF(id) };
  return bare(z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as Json);
}

function parameters(route: RouteContract): Json[] {
  const out: Json[] = [];
  for (const [where, object] of [
    ['path', route.params],
    ['query', route.query],
    ['header', route.headers],
  ] as const) {
    if (!object) continue;
    for (const [name, field] of Object.entries(object.shape as Record<string, z.ZodType>)) {
      const schema = schemaOf(field);
      const { description, ...rest } = schema;
      out.push({
        name,
        in: where,
        required: where === 'path' || !field.safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  return out;
}

function response(route: RouteContract, status: number, r: ResponseContract): Json {
  const headers: Json = {};
  if (status === 429) headers['Retry-After'] = { description: 'seconds to wait (rate limits)', schema: { type: 'integer' } };
  if (route.operationId === 'login' && status === 201) {
    headers['Cache-Control'] = { description: 'no-store: the answer carries a token', schema: { type: 'string' } };
  }
  const content =
    r.contentType === 'text/html'
      ? { 'text/html': { schema: { type: 'string' } } }
      : r.schema
        ? { 'application/json': { schema: schemaOf(r.schema) } }
        : undefined;
  return { description: r.description, ...(Object.keys(headers).length ? { headers } : {}), ...(content ? { content } : {}) };
}

const SECURITY = {
  public: [],
  'optional-key': [{}, { apiKey: [] }],
  key: [{ apiKey: [] }],
  session: [{ apiKey: [], sessionToken: [] }],
} as const;

function operation(route: RouteContract): Json {
  const params = parameters(route);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: SECURITY[route.security],
    ...(params.length ? { parameters: params } : {}),
    ...(route.body
      ? { requestBody: { required: !route.body.safeParse(undefined).success, content: { 'application/json': { schema: schemaOf(route.body) } } } }
      : {}),
    responses: Object.fromEntries(Object.entries(route.responses).map(([status, r]) => [status, response(route, Number(status), r)])),
  };
}

export function buildOpenApi(): Json {
  const { schemas } = z.toJSONSchema(contractSchemas, { io: 'input', target: 'draft-2020-12', uri: COMPONENT_REF }) as { schemas: Record<string, Json> };
  const paths: Record<string, Json> = {};
  for (const route of Object.values(routes) as RouteContract[]) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Nightshift session gate',
      version,
      description:
        'The business application asks the gate before a login and while a user is logged in (R-SE-1). Every /v1 route ' +
        `takes the application's key in the ${API_KEY_HEADER} header (R-SE-4); the session routes also take the session's ` +
        'token (Authorization: Bearer <token>) that the login answered. Errors are JSON {error, field?}.',
    },
    tags: [
      { name: 'sessions', description: 'logins, heartbeats, logouts' },
      { name: 'dossiers', description: 'dossiers held open by a session, single-dossier backups' },
      { name: 'targets', description: "a target's state" },
      { name: 'public', description: 'no credential: what a browser or a probe may ask' },
    ],
    security: SECURITY.key,
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: API_KEY_HEADER,
          description: "the business application's key for the target (nightshift gate keys create); two may be valid at once while it rotates",
        },
        sessionToken: { type: 'http', scheme: 'bearer', description: "the session's token, from the login answer" },
      },
      schemas: Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, bare(s)])),
    },
  };
}

/** The committed file's text: stable key order, two-space indent, final newline. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}

/** Temporary name, fsync, rename: a reader never sees half a document. */
export function writeOpenApi(file = OPENAPI_FILE): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, openApiText());
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// run as a script (bin/run-ts.js puts the file in argv[1]), not when the gate imports it
if (process.argv[1] === __filename) {
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(OPENAPI_FILE) ? fs.readFileSync(OPENAPI_FILE, 'utf8') : '';
    if (current !== openApiText()) {
      console.error(`${path.relative(process.cwd(), OPENAPI_FILE)} is out of date: run npm run openapi`);
      process.exit(1);
    }
    console.log(`${path.relative(process.cwd(), OPENAPI_FILE)} is up to date`);
  } else {
    writeOpenApi();
    console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
  }
}
