import { createHash, randomBytes } from 'node:crypto';

/** How long an issued reset token can be used. */
export const RESET_TOKEN_TTL_MINUTES = 60;

export function hashResetToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

type Query = (sql: string, parameters: unknown[]) => Promise<unknown[]>;

/**
 * Issues a one-time password reset token for the account with this email (there is no email
 * sending: an operator runs `npm run reset-password -- <email>` and hands the token over).
 * Only its hash is stored; a newer token replaces an older one. Null when no account has the
 * email.
 */
export async function issuePasswordReset(query: Query, email: string): Promise<string | null> {
  const token = randomBytes(24).toString('base64url');
  const rows = await query(
    `UPDATE users SET password_reset_hash = $1,
            password_reset_expires_at = now() + make_interval(mins => $3)
      WHERE email = $2 RETURNING id`,
    [hashResetToken(token), email.trim().toLowerCase(), RESET_TOKEN_TTL_MINUTES],
  );
  return rows.length > 0 ? token : null;
}
