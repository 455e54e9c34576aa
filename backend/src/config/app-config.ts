import { readFileSync, mkdirSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { envSchema, type Env } from './config.schema.js';
import { repoPaths } from './repo-paths.js';

export type PoolerMode = 'auto' | 'none' | 'transaction' | 'session';

export interface ServerConfig {
  host: string;
  port: number;
  serveFrontend: boolean;
  /** How long turns in flight may finish after SIGTERM before they are ended as interrupted. */
  shutdownGraceMs: number;
  /** Node's HTTP server limits, set deliberately (slow clients must not hold connections). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  timeoutCheckIntervalMs: number;
}

export interface DatabaseConfig {
  /** External server; absent means the embedded PostgreSQL under `dataDir`. */
  url?: string;
  /** Direct connection for migrations when a pooler sits in front of `url`. */
  directUrl?: string;
  pooler: PoolerMode;
  poolMax: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  /** npm run backup: the folder backups go into, and how many are kept. */
  backupDir: string;
  backupKeep: number;
  /** Backoff bounds while the database cannot be reached at start. */
  startRetryMinMs: number;
  startRetryMaxMs: number;
}

export interface AuthConfig {
  /** Secret value; never logged. */
  jwtSecret: string;
  jwtTtlSeconds: number;
  jwtIssuer: string;
  jwtAudience: string;
  signupTokenGrant: number;
}

export interface ProvidersConfig {
  /** The real Gemini API; absent means the demo provider answers. Key is secret. */
  gemini?: { apiKey: string; model: string; baseUrl?: string };
  /** An OpenAI-compatible failover provider. Key is secret. */
  openai?: { baseUrl: string; apiKey: string; model: string };
  demo: { firstByteDelayMs: number; chunkDelayMs: number };
  /** Last resort when every real provider failed: the demo provider, degraded and uncharged. */
  fallback: 'none' | 'demo';
  /** Recent successful replies served (degraded, uncharged) when every provider fails; off when absent. */
  cachedFallback?: { entries: number };
}

export interface ObservabilityConfig {
  /** OTLP/HTTP collector base URL; no tracing at all when absent. */
  otlpEndpoint?: string;
  serviceName: string;
  /** Sentry-compatible DSN (secret); no error reporting when absent. */
  sentryDsn?: string;
}

export interface ResilienceConfig {
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  turnTimeoutMs: number;
  firstTokenTimeoutMs: number;
  stallTimeoutMs: number;
  chatBreaker: { threshold: number; resetMs: number; maxChats: number };
  providerBreaker: { failureRate: number; windowMs: number; minCalls: number; resetMs: number };
  probeIntervalMs: number;
}

export interface GenerationConfig {
  historyWindow: number;
  maxOutputTokens: number;
  /** Turns a user may start per minute on one instance (0 = unlimited). */
  rateLimitPerMinute: number;
  /**
   * Turn starts (their database work before the provider is called) admitted at once; the others
   * wait in a queue fair between users, bounded in all and per user, for at most `maxWaitMs`.
   */
  admission: { concurrency: number; maxQueued: number; maxQueuedPerUser: number; maxWaitMs: number };
  /** Honour X-Debug-Force-Error (never in production). */
  debugFaults: boolean;
  /** Tool calling: model steps that may call tools per reply, per-call timeout, largest result kept. */
  tools: {
    stepLimit: number;
    timeoutMs: number;
    resultMaxChars: number;
    /** Operator-configured MCP servers, and how often their tool lists are read again (0 = never). */
    mcpServers: McpServerConfig[];
    mcpRefreshMs: number;
  };
}

export interface McpServerConfig {
  name: string;
  url?: string;
  command?: string;
  args: string[];
  /** Character ids that may use the server's tools; `*` for all. */
  characters: string[];
}

export interface TrustConfig {
  /** How often a streaming reply's text is saved (and a cancel from another instance noticed). */
  checkpointIntervalMs: number;
  /** How long a reply may go on once its client has gone away. */
  unattendedReplyMaxMs: number;
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlSeconds: number;
  /** The moderation policy (YAML); defaults to backend/moderation/policy.yaml. */
  moderationPolicyFile: string;
}

export interface RealtimeConfig {
  /** Redis pub/sub for the fan-out across instances; absent means PostgreSQL LISTEN/NOTIFY. Secret (may hold a password). */
  redisUrl?: string;
  /** How often each socket is pinged (a socket that missed the previous pong is closed). */
  heartbeatMs: number;
  /** Sockets one user may hold on one instance. */
  maxConnectionsPerUser: number;
  /** How long events are kept for reconnecting clients. */
  eventRetentionSeconds: number;
  /** A reconnecting client missing more events than this is told to resync instead. */
  replayMaxEvents: number;
}

export class ConfigError extends Error {}

/** Typed, validated configuration. Only this module reads `process.env`. */
export class AppConfig {
  constructor(
    readonly env: Env['NODE_ENV'],
    readonly dataDir: string,
    readonly server: ServerConfig,
    readonly database: DatabaseConfig,
    readonly auth: AuthConfig,
    readonly logLevel: Env['LOG_LEVEL'],
    readonly providers: ProvidersConfig,
    readonly resilience: ResilienceConfig,
    readonly generation: GenerationConfig,
    readonly trust: TrustConfig,
    readonly realtime: RealtimeConfig,
  ) {}

  get isProduction(): boolean {
    return this.env === 'production';
  }

  /** A copy with some sections replaced (tests point one app at its own database). */
  with(
    overrides: Partial<
      Pick<AppConfig, 'server' | 'database' | 'auth' | 'providers' | 'resilience' | 'generation' | 'trust' | 'realtime'>
    >,
  ): AppConfig {
    return new AppConfig(
      this.env,
      this.dataDir,
      overrides.server ?? this.server,
      overrides.database ?? this.database,
      overrides.auth ?? this.auth,
      this.logLevel,
      overrides.providers ?? this.providers,
      overrides.resilience ?? this.resilience,
      overrides.generation ?? this.generation,
      overrides.trust ?? this.trust,
      overrides.realtime ?? this.realtime,
    );
  }
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(pickKnown(source));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  const dataDir = resolve(env.DATA_DIR ?? join(repoPaths.root, '.data'));
  return new AppConfig(
    env.NODE_ENV,
    dataDir,
    {
      host: env.HOST,
      port: env.PORT,
      serveFrontend: env.SERVE_FRONTEND,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      timeoutCheckIntervalMs: env.HTTP_TIMEOUT_CHECK_INTERVAL_MS,
    },
    {
      url: env.DATABASE_URL,
      directUrl: env.DATABASE_DIRECT_URL,
      pooler: env.DATABASE_POOLER,
      poolMax: env.DATABASE_POOL_MAX,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_MS,
      backupDir: resolve(env.BACKUP_DIR ?? join(dataDir, 'backups')),
      backupKeep: env.BACKUP_KEEP,
      startRetryMinMs: env.DATABASE_START_RETRY_MIN_MS,
      startRetryMaxMs: Math.max(env.DATABASE_START_RETRY_MIN_MS, env.DATABASE_START_RETRY_MAX_MS),
    },
    {
      jwtSecret: resolveJwtSecret(env, dataDir),
      jwtTtlSeconds: env.JWT_TTL_SECONDS,
      jwtIssuer: 'parley',
      jwtAudience: 'parley-api',
      signupTokenGrant: env.SIGNUP_TOKEN_GRANT,
    },
    env.LOG_LEVEL,
    {
      gemini: env.GEMINI_API_KEY
        ? { apiKey: env.GEMINI_API_KEY, model: env.GEMINI_MODEL, baseUrl: env.GEMINI_BASE_URL }
        : undefined,
      openai: openAiConfig(env),
      demo: { firstByteDelayMs: env.DEMO_FIRST_BYTE_DELAY_MS, chunkDelayMs: env.DEMO_CHUNK_DELAY_MS },
      fallback: env.FALLBACK_MODE,
      cachedFallback: env.PROVIDER_CACHED_FALLBACK ? { entries: env.PROVIDER_CACHED_FALLBACK_ENTRIES } : undefined,
    },
    {
      retry: {
        maxAttempts: env.RETRY_MAX_ATTEMPTS,
        baseDelayMs: env.RETRY_BASE_DELAY_MS,
        maxDelayMs: env.RETRY_MAX_DELAY_MS,
      },
      turnTimeoutMs: env.TURN_TIMEOUT_MS,
      firstTokenTimeoutMs: env.FIRST_TOKEN_TIMEOUT_MS,
      stallTimeoutMs: env.STALL_TIMEOUT_MS,
      chatBreaker: {
        threshold: env.CHAT_BREAKER_THRESHOLD,
        resetMs: env.CHAT_BREAKER_RESET_MS,
        maxChats: env.CHAT_BREAKER_MAX_CHATS,
      },
      providerBreaker: {
        failureRate: env.PROVIDER_BREAKER_FAILURE_RATE,
        windowMs: env.PROVIDER_BREAKER_WINDOW_MS,
        minCalls: env.PROVIDER_BREAKER_MIN_CALLS,
        resetMs: env.PROVIDER_BREAKER_RESET_MS,
      },
      probeIntervalMs: env.PROVIDER_PROBE_INTERVAL_MS,
    },
    {
      historyWindow: env.HISTORY_WINDOW_MESSAGES,
      maxOutputTokens: env.MAX_OUTPUT_TOKENS,
      rateLimitPerMinute: env.TURN_RATE_LIMIT_PER_MINUTE,
      admission: {
        // Twice the pool: a start holds its slot across several statements and the work between
        // them (a connection only during each statement), so the pool stays busy while the pool's
        // own queue stays short (a few statements deep, far below its connection timeout).
        concurrency: env.TURN_ADMISSION_CONCURRENCY || 2 * env.DATABASE_POOL_MAX,
        maxQueued: env.TURN_ADMISSION_QUEUE_MAX,
        maxQueuedPerUser: env.TURN_ADMISSION_QUEUE_PER_USER,
        maxWaitMs: env.TURN_ADMISSION_WAIT_MS,
      },
      debugFaults: env.DEBUG_FAULTS && env.NODE_ENV !== 'production',
      tools: {
        stepLimit: env.TOOL_STEP_LIMIT,
        timeoutMs: env.TOOL_TIMEOUT_MS,
        resultMaxChars: env.TOOL_RESULT_MAX_CHARS,
        mcpServers: env.MCP_SERVERS ?? [],
        mcpRefreshMs: env.MCP_REFRESH_MS,
      },
    },
    {
      checkpointIntervalMs: env.CHECKPOINT_INTERVAL_MS,
      unattendedReplyMaxMs: env.UNATTENDED_REPLY_MAX_MS,
      idempotencyTtlSeconds: env.IDEMPOTENCY_TTL_SECONDS,
      moderationPolicyFile: resolve(
        env.MODERATION_POLICY_FILE ?? join(repoPaths.root, 'backend', 'moderation', 'policy.yaml'),
      ),
    },
    {
      redisUrl: env.REDIS_URL,
      heartbeatMs: env.REALTIME_HEARTBEAT_MS,
      maxConnectionsPerUser: env.REALTIME_MAX_CONNECTIONS_PER_USER,
      eventRetentionSeconds: env.REALTIME_EVENT_RETENTION_SECONDS,
      replayMaxEvents: env.REALTIME_REPLAY_MAX_EVENTS,
    },
  );
}

/**
 * The observability settings alone, read before the application is loaded (tracing must hook
 * http and pg before they are imported). Invalid values are left to loadConfig to report.
 */
export function loadObservability(source: NodeJS.ProcessEnv = process.env): ObservabilityConfig | undefined {
  const parsed = envSchema
    .pick({ OTEL_EXPORTER_OTLP_ENDPOINT: true, OTEL_SERVICE_NAME: true, SENTRY_DSN: true })
    .safeParse(pickKnown(source));
  if (!parsed.success) return undefined;
  return {
    otlpEndpoint: parsed.data.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: parsed.data.OTEL_SERVICE_NAME,
    sentryDsn: parsed.data.SENTRY_DSN,
  };
}

function openAiConfig(env: Env): ProvidersConfig['openai'] {
  if (!env.OPENAI_BASE_URL) return undefined;
  if (!env.OPENAI_MODEL) {
    throw new ConfigError('Invalid configuration:\n  OPENAI_MODEL: required when OPENAI_BASE_URL is set');
  }
  // Local servers (Ollama, vLLM) accept any key; hosted ones need theirs.
  return { baseUrl: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY ?? 'none', model: env.OPENAI_MODEL };
}

function pickKnown(source: NodeJS.ProcessEnv): Record<string, string> {
  const known: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') known[key] = value;
  }
  return known;
}

// Production must be given a secret; elsewhere one is generated once and kept beside the data,
// so tokens survive restarts of the embedded default.
function resolveJwtSecret(env: Env, dataDir: string): string {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  if (env.NODE_ENV === 'production') {
    throw new ConfigError('Invalid configuration:\n  JWT_SECRET: required in production');
  }
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}
