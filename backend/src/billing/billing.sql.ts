/**
 * Billing's SQL, as common table expressions for the statements that do a turn's work in one
 * round trip (persist-before, persist-after, a cancel, the sweep of interrupted turns). Billing
 * owns what they do to balances and the ledger; the caller owns the rest of the statement and
 * passes in its parameter placeholders and conditions.
 *
 * The rules they keep: a balance never goes below zero; a message has at most one ledger row per
 * kind and segment (the partial unique index), so a second settlement or release is a no-op
 * whatever the race; every change to a balance leaves a ledger row. A segment is one generation
 * of a message: 0 for the reply, n for its n-th continuation (specs/009-conversation-tree), each
 * reserved, settled or released on its own.
 */

/**
 * `reserved`: takes `amount` from the user's balance when it covers it (the user's row lock
 * queues concurrent reservations). One row (the user's id) when it did, none when it did not.
 */
export function reserveCte(user: string, amount: string): string {
  return `reserved AS (
    UPDATE users SET token_balance = token_balance - ${amount}
    WHERE id = ${user} AND token_balance >= ${amount}
    RETURNING id
  )`;
}

/** `reservation_entry`: the reservation's ledger row, on the message (and segment) the selection names. */
export function reservationLedgerCte(user: string, amount: string, messageSelection: string, segment = '0'): string {
  return `reservation_entry AS (
    INSERT INTO token_ledger (user_id, message_id, segment, kind, amount)
    SELECT ${user}, m.id, ${segment}, 'reservation', -${amount}::bigint FROM ${messageSelection} AS m(id)
  )`;
}

/**
 * `balance_before`, `charged`, `settled`: settles a message's reservation when `when` holds:
 * gives back `refund` (the reservation minus the actual cost; negative when the reply cost
 * more, never taking the balance below zero) and records the settlement. `charged.new_balance`
 * is the balance after it.
 */
export function settleCtes(p: {
  user: string;
  message: string;
  refund: string;
  when: string;
  segment?: string;
}): string {
  return `balance_before AS (
    SELECT token_balance FROM users WHERE id = ${p.user} AND ${p.when} FOR UPDATE
  ), charged AS (
    UPDATE users SET token_balance = GREATEST(users.token_balance + ${p.refund}, 0)
    FROM balance_before WHERE users.id = ${p.user}
    RETURNING balance_before.token_balance AS old_balance, users.token_balance AS new_balance
  ), settled AS (
    INSERT INTO token_ledger (user_id, message_id, segment, kind, amount)
    SELECT ${p.user}, ${p.message}, ${p.segment ?? '0'}, 'settlement', new_balance - old_balance FROM charged
  )`;
}

/**
 * `reservations`, `released`, `credited`: gives back the reservations of the messages the
 * selection names (a subquery of message ids), once each, leaving out segments already settled
 * (a continued reply keeps the charge of its earlier parts). `credited` holds the new balance of
 * every user credited.
 */
export function releaseCtes(messageIds: string): string {
  return `reservations AS (
    SELECT l.user_id, l.message_id, l.segment, -l.amount AS amount FROM token_ledger l
    WHERE l.kind = 'reservation' AND l.message_id IN ${messageIds}
      AND NOT EXISTS (SELECT 1 FROM token_ledger s WHERE s.message_id = l.message_id
                        AND s.segment = l.segment AND s.kind = 'settlement')
  ), released AS (
    INSERT INTO token_ledger (user_id, message_id, segment, kind, amount)
    SELECT user_id, message_id, segment, 'release', amount FROM reservations
    ON CONFLICT (message_id, segment, kind) WHERE message_id IS NOT NULL DO NOTHING
    RETURNING user_id, amount
  ), credited AS (
    UPDATE users SET token_balance = users.token_balance + r.total
    FROM (SELECT user_id, sum(amount) AS total FROM released GROUP BY user_id) r
    WHERE users.id = r.user_id
    RETURNING users.id, users.token_balance
  )`;
}

/** The user's balance after a statement using `releaseCtes` (credited, or as it was). */
export function balanceAfterRelease(user: string): string {
  return `COALESCE((SELECT token_balance FROM credited WHERE id = ${user}),
    (SELECT token_balance FROM users WHERE id = ${user}))`;
}
