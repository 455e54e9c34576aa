/**
 * `claimed`: links a request's idempotency record to the reply it created, inside the statement
 * that stores the reply (so there is never a reply without its key, or a key whose reply is
 * unknown: a repeat of the request after a crash finds the reply instead of creating another).
 */
export function attachReplyCte(record: string, messageSelection: string): string {
  return `claimed AS (
    UPDATE idempotency_records SET message_id = m.id FROM ${messageSelection} AS m(id)
    WHERE idempotency_records.id = ${record} AND idempotency_records.state = 'in_flight'
  )`;
}
