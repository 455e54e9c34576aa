import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse } from 'yaml';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { repoPaths } from '../src/config/repo-paths.js';
import { loadConfig } from '../src/config/app-config.js';

const K8S = join(repoPaths.root, 'deploy', 'k8s');

// Each manifest kind checked by the kubernetes-models package: its classes validate against the
// Kubernetes OpenAPI schemas (generated JSON schemas, Ajv).
const MODELS = {
  ConfigMap,
  Secret,
  Service,
  Deployment,
  PodDisruptionBudget,
  HorizontalPodAutoscaler,
} as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = Record<string, any>;

function manifests(): Manifest[] {
  return readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => d.toJS() as Manifest));
}

function validate(manifest: Manifest): void {
  const Model = MODELS[manifest.kind as keyof typeof MODELS];
  if (!Model) throw new Error(`no validator for ${String(manifest.kind)}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  new (Model as any)(manifest).validate();
}

describe('deployment', () => {
  describe('Kubernetes manifests (deploy/k8s)', () => {
    const all = manifests();
    const byKind = (kind: string) => all.find((m) => m.kind === kind)!;

    it('validate against the Kubernetes schemas, and the validator does refuse a broken one', () => {
      expect(all.map((m) => m.kind).sort()).toEqual(Object.keys(MODELS).sort());
      for (const manifest of all) validate(manifest);
      const broken = structuredClone(byKind('Deployment'));
      broken.spec.template.spec.containers[0].ports[0].containerPort = 'three thousand';
      expect(() => validate(broken)).toThrow();
      const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
      expect(kustomization.resources.sort()).toEqual(
        readdirSync(K8S)
          .filter((f) => f !== 'kustomization.yaml')
          .sort(),
      );
    });

    it('wires readiness and liveness to the health routes, and a preStop within the grace period', () => {
      const deployment = byKind('Deployment');
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
      expect(container.livenessProbe.httpGet.path).toBe('/health/live');
      const preStopSeconds = Number(container.lifecycle.preStop.exec.command.at(-1));
      const drainSeconds = Number(byKind('ConfigMap').data.SHUTDOWN_GRACE_MS) / 1000;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + drainSeconds);
      // The Service, the budget and the autoscaler all point at these pods.
      const labels = deployment.spec.template.metadata.labels;
      expect(byKind('Service').spec.selector).toEqual(labels);
      expect(byKind('PodDisruptionBudget').spec.selector.matchLabels).toEqual(labels);
      expect(byKind('HorizontalPodAutoscaler').spec.scaleTargetRef).toMatchObject({
        kind: 'Deployment',
        name: deployment.metadata.name,
      });
      expect(byKind('PodDisruptionBudget').spec.minAvailable).toBeLessThan(
        byKind('HorizontalPodAutoscaler').spec.minReplicas,
      );
    });

    it('gives the app a configuration it accepts (ConfigMap and Secret together)', () => {
      const env = { ...byKind('ConfigMap').data, ...byKind('Secret').stringData } as Record<string, string>;
      expect(() => loadConfig(env)).not.toThrow();
    });
  });

  describe('docker-compose.yml', () => {
    const text = readFileSync(join(repoPaths.root, 'docker-compose.yml'), 'utf8');
    const compose = parse(text) as Manifest;
    // `${VAR:-default}` as its default, `${VAR:?message}` as a sample value.
    const interpolated = parse(
      text.replace(/\$\{\w+:-([^}]*)\}/g, '$1').replace(/\$\{\w+:\?[^}]*\}/g, 'sample-value'),
    ) as Manifest;

    it('validates against the compose specification schema (as `docker compose` reads it: variables substituted)', () => {
      // The Compose Specification's schema as the dclint package ships it (draft-07).
      const schema = JSON.parse(
        readFileSync(join(repoPaths.root, 'node_modules', 'dclint', 'schemas', 'compose.schema.json'), 'utf8'),
      ) as Record<string, unknown>;
      // Draft-07, Ajv's own dialect, named by an https URI Ajv does not know as its meta-schema.
      delete schema.$schema;
      const check = new Ajv({ strict: false, allErrors: true }).compile(schema);
      expect(check(interpolated) ? [] : check.errors).toEqual([]);
      expect(check({ ...interpolated, services: { app: { ...interpolated.services.app, restart: 42 } } })).toBe(false);
    });

    it('runs several app replicas behind the balancer, PgBouncer and PostgreSQL, and Redis as a profile', () => {
      expect(Object.keys(compose.services).sort()).toEqual(['app', 'lb', 'pgbouncer', 'postgres', 'redis']);
      expect(compose.services.app.deploy.replicas).toMatch(/APP_REPLICAS:-3/);
      expect(compose.services.app.ports).toBeUndefined();
      expect(compose.services.lb.ports).toEqual(['3000:3000']);
      expect(compose.services.redis.profiles).toEqual(['redis']);
      expect(compose.services.app.environment.DATABASE_URL).toContain('@pgbouncer:');
    });

    it('has a balancer configuration HAProxy accepts, checking readiness', () => {
      const config = join(repoPaths.root, 'deploy', 'haproxy', 'haproxy.cfg');
      expect(readFileSync(config, 'utf8')).toContain('option httpchk GET /health/ready');
      // Exits non-zero on an invalid configuration (unresolvable hosts are only warnings).
      execFileSync('haproxy', ['-c', '-q', '-f', config], { stdio: 'pipe' });
    });
  });

  describe('Prometheus alert rules (deploy/prometheus)', () => {
    const rules = join(repoPaths.root, 'deploy', 'prometheus');

    it('are accepted by promtool, and fire as their unit tests expect', () => {
      // Both exit non-zero on an invalid rule or an alert that does not fire as expected.
      execFileSync('promtool', ['check', 'rules', join(rules, 'alerts.yml')], { stdio: 'pipe' });
      execFileSync('promtool', ['test', 'rules', join(rules, 'alerts.test.yml')], { stdio: 'pipe' });
    });

    it('alert on the breakers, the error ratio, first-token p95 and readiness', () => {
      const names = (
        parse(readFileSync(join(rules, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> }
      ).groups.flatMap((g) => g.rules.map((r) => r.alert));
      expect(names).toEqual(
        expect.arrayContaining([
          'ParleyProviderBreakerOpen',
          'ParleyManyChatBreakersOpen',
          'ParleyHighErrorRatio',
          'ParleyFirstTokenSlow',
          'ParleyNotReady',
        ]),
      );
    });
  });

  describe('the metrics that alerts and the dashboard read (deploy/prometheus, deploy/grafana)', () => {
    // Every metric the app registers, read from its source (names are literals there).
    const exported = new Set(
      readdirSync(join(repoPaths.root, 'backend', 'src'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
        .flatMap((f) => [
          ...readFileSync(join(repoPaths.root, 'backend', 'src', f), 'utf8').matchAll(/name: '(parley_[a-z_]+)'/g),
        ])
        .map((m) => m[1]!),
    );
    const used = (text: string) => [
      ...new Set([...text.matchAll(/\b(parley_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ''))),
    ];

    it('are all metrics the app exports', () => {
      const alerts = readFileSync(join(repoPaths.root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
      const dashboard = JSON.parse(readFileSync(join(repoPaths.root, 'deploy', 'grafana', 'parley.json'), 'utf8')) as {
        panels: Array<{ targets: Array<{ expr: string }> }>;
      };
      const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
      expect(exported.size).toBeGreaterThan(5);
      for (const metric of [...used(alerts), ...used(exprs)])
        expect([metric, exported.has(metric)]).toEqual([metric, true]);
      expect(used(exprs).length).toBeGreaterThanOrEqual(6);
    });
  });
});
