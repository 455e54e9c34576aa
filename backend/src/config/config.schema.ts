import { z } from 'zod';

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

// MCP servers the operator gives the characters (specs/010-tools): JSON, a list of
// {name, url} (Streamable HTTP) or {name, command, args?} (stdio), each with the characters that
// may use its tools (`["*"]` for all).
const mcpServer = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9]{0,15}$/, 'lowercase letters and digits, at most 16'),
    url: z.string().url().optional(),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    characters: z.array(z.string().min(1)).min(1).default(['*']),
  })
  .refine((s) => (s.url === undefined) !== (s.command === undefined), 'needs exactly one of url and command');
const mcpServers = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.array(mcpServer).max(20));

const postgresUrl = z
  .string()
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// or postgresql:// URL');

// The one description of the environment Parley reads. Every key is documented in .env.example.
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATA_DIR: z.string().min(1).optional(),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_DIRECT_URL: postgresUrl.optional(),
  DATABASE_POOLER: z.enum(['auto', 'none', 'transaction', 'session']).default('auto'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(5000),
  DATABASE_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(15000),
  // A database unreachable at start is waited for (backoff between these bounds), never exited on.
  DATABASE_START_RETRY_MIN_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  DATABASE_START_RETRY_MAX_MS: z.coerce.number().int().min(50).max(600000).default(10000),
  // Slow clients: headers and the whole request must arrive within these; idle keep-alive
  // connections close after the last (keep it above a load balancer's idle timeout).
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(10000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3600000).default(30000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(65000),
  HTTP_TIMEOUT_CHECK_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  // npm run backup: where backups go (default DATA_DIR/backups) and how many are kept.
  BACKUP_DIR: z.string().min(1).optional(),
  BACKUP_KEEP: z.coerce.number().int().min(1).max(10000).default(7),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(2592000).default(86400),
  SIGNUP_TOKEN_GRANT: z.coerce.number().int().min(0).max(1_000_000_000).default(100000),
  SERVE_FRONTEND: booleanFlag.default(true),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600000).default(10000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'verbose']).default('info'),
  // Traces: exported over OTLP/HTTP only when an endpoint is set (the exporter reads the other
  // standard OTEL_EXPORTER_OTLP_* variables itself). Errors: reported when a DSN is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('parley'),
  SENTRY_DSN: z.string().url().optional(),

  // Providers. Without GEMINI_API_KEY the local demo provider answers.
  GEMINI_API_KEY: z.string().min(1).optional(),
  GEMINI_MODEL: z.string().min(1).default('gemini-2.5-flash'),
  GEMINI_BASE_URL: z.string().url().optional(),
  OPENAI_BASE_URL: z.string().url().optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_MODEL: z.string().min(1).optional(),
  DEMO_FIRST_BYTE_DELAY_MS: z.coerce.number().int().min(0).max(60000).default(300),
  DEMO_CHUNK_DELAY_MS: z.coerce.number().int().min(0).max(10000).default(40),
  FALLBACK_MODE: z.enum(['none', 'demo']).default('none'),
  // When every provider fails: a recent successful reply to the identical provider request,
  // served degraded and uncharged (before the demo fallback). Off by default.
  PROVIDER_CACHED_FALLBACK: booleanFlag.default(false),
  PROVIDER_CACHED_FALLBACK_ENTRIES: z.coerce.number().int().min(1).max(1_000_000).default(1000),

  // Resilience.
  RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(5),
  RETRY_BASE_DELAY_MS: z.coerce.number().int().min(0).max(60000).default(250),
  RETRY_MAX_DELAY_MS: z.coerce.number().int().min(0).max(120000).default(2000),
  TURN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(30000),
  FIRST_TOKEN_TIMEOUT_MS: z.coerce.number().int().min(50).max(600000).default(15000),
  STALL_TIMEOUT_MS: z.coerce.number().int().min(50).max(600000).default(10000),
  CHAT_BREAKER_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(5),
  CHAT_BREAKER_RESET_MS: z.coerce.number().int().min(100).max(3600000).default(30000),
  CHAT_BREAKER_MAX_CHATS: z.coerce.number().int().min(10).max(10_000_000).default(100000),
  // A provider's breaker opens on a failure rate over a sliding window, once the window holds
  // a minimum of calls (one chat's bad luck cannot open it for everyone).
  PROVIDER_BREAKER_FAILURE_RATE: z.coerce.number().gt(0).lt(1).default(0.5),
  PROVIDER_BREAKER_WINDOW_MS: z.coerce.number().int().min(1000).max(3600000).default(60000),
  PROVIDER_BREAKER_MIN_CALLS: z.coerce.number().int().min(1).max(100000).default(20),
  PROVIDER_BREAKER_RESET_MS: z.coerce.number().int().min(100).max(3600000).default(30000),
  PROVIDER_PROBE_INTERVAL_MS: z.coerce.number().int().min(0).max(3600000).default(30000),

  // Turns.
  HISTORY_WINDOW_MESSAGES: z.coerce.number().int().min(1).max(1000).default(40),
  MAX_OUTPUT_TOKENS: z.coerce.number().int().min(16).max(65536).default(1024),
  // Tool calling: model steps that may call tools in one reply, each call's time limit, and the
  // largest result (in characters of JSON) given back to the model before it is cut.
  TOOL_STEP_LIMIT: z.coerce.number().int().min(0).max(20).default(4),
  TOOL_TIMEOUT_MS: z.coerce.number().int().min(10).max(120000).default(5000),
  TOOL_RESULT_MAX_CHARS: z.coerce.number().int().min(64).max(1_000_000).default(8000),
  MCP_SERVERS: mcpServers.optional(),
  MCP_REFRESH_MS: z.coerce.number().int().min(0).max(3600000).default(60000),
  TURN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(100000).default(30),
  // Admission of turn starts (their database work before the provider is called): how many run
  // at once (0: twice the pool's connections), how many wait in all and per user, and how
  // long one waits before it is answered 503 with Retry-After.
  TURN_ADMISSION_CONCURRENCY: z.coerce.number().int().min(0).max(1000).default(0),
  TURN_ADMISSION_QUEUE_MAX: z.coerce.number().int().min(0).max(1_000_000).default(20000),
  TURN_ADMISSION_QUEUE_PER_USER: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  TURN_ADMISSION_WAIT_MS: z.coerce.number().int().min(100).max(600000).default(60000),
  DEBUG_FAULTS: booleanFlag.default(false),

  // Trustworthy turns.
  CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(20).max(60000).default(250),
  UNATTENDED_REPLY_MAX_MS: z.coerce.number().int().min(100).max(3600000).default(30000),
  IDEMPOTENCY_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86400)
    .default(86400),
  MODERATION_POLICY_FILE: z.string().min(1).optional(),

  // Realtime (the WebSocket channel) and its fan-out across instances.
  // Empty counts as unset (docker compose passes `${REDIS_URL:-}` through as an empty string).
  REDIS_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .url()
      .refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// or rediss:// URL')
      .optional(),
  ),
  REALTIME_HEARTBEAT_MS: z.coerce.number().int().min(100).max(600000).default(30000),
  REALTIME_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).max(100000).default(20),
  REALTIME_EVENT_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86400)
    .default(86400),
  REALTIME_REPLAY_MAX_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(10000),
});

export type Env = z.infer<typeof envSchema>;

export const CONFIG_KEYS: readonly string[] = Object.keys(envSchema.shape);
