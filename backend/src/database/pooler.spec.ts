import { detectPooler } from './pooler.js';

describe(detectPooler.name, () => {
  it.each([
    ['postgres://u:p@localhost:5432/db', 'auto', 'none'],
    ['postgres://u:p@localhost:6432/db', 'auto', 'transaction'],
    ['postgres://u:p@db.internal:5432/db?pgbouncer=true', 'auto', 'transaction'],
    ['postgres://u:p@aws-0-eu-west-1.pooler.supabase.com:6543/postgres', 'auto', 'transaction'],
    ['postgres://u:p@aws-0-eu-west-1.pooler.supabase.com:5432/postgres', 'auto', 'session'],
    ['postgres://u:p@db.abcdefghijkl.supabase.co:6543/postgres', 'auto', 'transaction'],
    ['postgres://u:p@db.abcdefghijkl.supabase.co:5432/postgres', 'auto', 'none'],
    ['postgres://u:p@ep-cool-name-123456-pooler.eu-central-1.aws.neon.tech/db', 'auto', 'transaction'],
    ['postgres://u:p@localhost:6432/db', 'none', 'none'],
    ['postgres://u:p@localhost:5432/db', 'transaction', 'transaction'],
  ] as const)('%s with DATABASE_POOLER=%s is %s', (url, override, mode) => {
    expect(detectPooler(url, override).mode).toBe(mode);
  });
});
