import { ToolFailure, type Tool } from '../tool.types.js';

export interface CurrentTime {
  timeZone: string;
  /** The instant, in UTC. */
  utc: string;
  /** Wall-clock date and time in the zone, `YYYY-MM-DD HH:mm:ss`. */
  local: string;
  weekday: string;
}

/** The current date and time in an IANA time zone (Intl; no network). */
export function currentTime(timeZone: string, now: Date = new Date()): CurrentTime {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'long',
      hourCycle: 'h23',
    });
  } catch {
    throw new ToolFailure(
      'invalid_arguments',
      `unknown time zone "${timeZone.slice(0, 64)}"; use an IANA name like Europe/Paris`,
    );
  }
  const parts = Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]));
  return {
    timeZone: format.resolvedOptions().timeZone,
    utc: now.toISOString(),
    local: `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`,
    weekday: parts.weekday ?? '',
  };
}

export const timeTool: Tool = {
  name: 'current_time',
  description: 'The current date and time in a time zone (an IANA name such as "Asia/Shanghai"; UTC when omitted).',
  parameters: {
    type: 'object',
    properties: { timeZone: { type: 'string', minLength: 1, maxLength: 64 } },
    additionalProperties: false,
  },
  idempotent: true,
  run(args: Record<string, unknown>): Promise<CurrentTime> {
    return Promise.resolve(currentTime(typeof args.timeZone === 'string' ? args.timeZone : 'UTC'));
  },
};
