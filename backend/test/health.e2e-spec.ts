import { HealthController } from '../src/health/health.controller.js';
import { useTestApp } from './support/test-app.js';

describe(HealthController.name, () => {
  const t = useTestApp();

  it('answers liveness without touching dependencies', async () => {
    const response = await t().http.get('/health/live').expect(200);
    expect(response.body.status).toBe('ok');
  });

  it('is ready when the database answers and every migration is applied', async () => {
    const response = await t().http.get('/health/ready').expect(200);
    expect(response.body.details).toMatchObject({ database: { status: 'up' }, migrations: { status: 'up' } });
    const details = await t().http.get('/health').expect(200);
    expect(details.body.details.database).toMatchObject({ status: 'up', pool: { max: 10 } });
    expect(details.body.details.database.latencyMs).toBeGreaterThanOrEqual(0);
    expect(details.body.details.lifecycle).toMatchObject({ status: 'up', draining: false });
    expect(details.body.details.providers).toMatchObject({
      status: 'up',
      providers: [{ name: 'demo', demo: true, status: 'healthy', breakerState: 'closed' }],
    });
  });

  it('is not ready, with 503 and the failing dependency named, when a migration is missing', async () => {
    await t().dataSource.query('DELETE FROM migrations');
    try {
      const response = await t().http.get('/health/ready').expect(503);
      expect(response.body).toMatchObject({ status: 'error', error: { migrations: { status: 'down' } } });
    } finally {
      for (const migration of t().dataSource.migrations) {
        await t().dataSource.query('INSERT INTO migrations ("timestamp", name) VALUES ($1, $2)', [
          Number(/(\d{13})$/.exec(migration.name ?? '')?.[1] ?? 0),
          migration.name,
        ]);
      }
    }
    await t().http.get('/health/ready').expect(200);
  });

  it('exposes Prometheus metrics with request counts by route template', async () => {
    await t().http.get('/api/v1/characters').expect(200);
    const response = await t().http.get('/metrics').expect(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.text).toMatch(
      /parley_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/characters",status="200"\} \d+/,
    );
    expect(response.text).toContain('parley_process_resident_memory_bytes');
    for (const name of [
      'parley_provider_breaker_state{provider="demo"} 0',
      'parley_chat_breakers_open 0',
      'parley_turns_in_flight 0',
      'parley_db_pool_connections{state="total"}',
    ]) {
      expect(response.text).toContain(name);
    }
  });
});
