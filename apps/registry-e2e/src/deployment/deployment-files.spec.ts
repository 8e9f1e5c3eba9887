/**
 * docker-compose.yml and k8s/ cannot be run here (no container engine), so they are checked as
 * data: they parse, every WHARF_* key they set is one Wharf reads, and each service's resulting
 * environment passes the same validation the process does at start.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_KEYS, loadConfig, requireCluster, type ClusterRole, type KeySpec } from '@wharf/config';

const ROOT = join(__dirname, '../../../..');
type Env = Record<string, string>;

/** Credentials: they belong in a Secret, never in a ConfigMap. */
const SECRET = new Set(
  Object.entries(CONFIG_KEYS as Record<string, KeySpec>)
    .filter(([, spec]) => spec.secret)
    .map(([key]) => key),
);

function roleOf(args: unknown): ClusterRole | 'migrate' | undefined {
  const m = /dist\/apps\/(gateway|metadata|blob|migrate)\/src\/main\.js/.exec(JSON.stringify(args ?? ''));
  return m?.[1] as ClusterRole | 'migrate' | undefined;
}

function expectValid(what: string, role: ClusterRole | 'migrate', env: Env): void {
  const unknown = Object.keys(env).filter((k) => k.startsWith('WHARF_') && !KNOWN.has(k));
  expect({ what, unknown }).toEqual({ what, unknown: [] });
  const config = loadConfig(env);
  if (role === 'migrate' || role === 'metadata' || role === 'blob') expect(config.databaseUrl).toBeDefined();
  if (role !== 'migrate') requireCluster(config.cluster, role);
}

/** Every WHARF_* key the config library reads, as it declares them. */
const KNOWN = new Set(Object.keys(CONFIG_KEYS));

/** `# WHARF_X: value` lines: examples a reader uncomments, so they must be right as they stand. */
function commentedExamples(file: string): Env {
  const yamlLines = [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^\s*# (WHARF_[A-Z0-9_]+: .*)$/gm)];
  return Object.fromEntries(
    Object.entries(parse(yamlLines.map((m) => m[1]).join('\n')) as Record<string, unknown>).map(([k, v]) => [
      k,
      String(v),
    ]),
  );
}

describe('deployment files', () => {
  it('the config reads the keys of the distributed shape', () => {
    for (const key of ['WHARF_NATS_URL', 'WHARF_INTERNAL_TOKEN', 'WHARF_BLOB_URL', 'WHARF_S3_BUCKET'])
      expect(KNOWN).toContain(key);
  });

  describe('docker-compose.yml', () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Env; command?: unknown; entrypoint?: unknown }>;
    };

    it('runs two gateways, metadata, blob, Postgres, NATS with JetStream, MinIO and a one-shot init', () => {
      const services = Object.keys(compose.services);
      expect(services).toEqual(
        expect.arrayContaining([
          'gateway-1',
          'gateway-2',
          'metadata',
          'blob',
          'postgres',
          'nats',
          'minio',
          'init',
        ]),
      );
      expect(JSON.stringify(compose.services.nats.command)).toContain('-js');
    });

    it('gives every Wharf service an environment it accepts, with only keys Wharf reads', () => {
      let checked = 0;
      for (const [name, svc] of Object.entries(compose.services)) {
        const role = roleOf([svc.command, svc.entrypoint]);
        if (!role) continue;
        const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v)]));
        expectValid(`compose ${name}`, role, env);
        checked++;
      }
      expect(checked).toBe(5);
    });
  });

  it.each(['docker-compose.yml', 'k8s/configmap.yaml'])(
    '%s shows every WHARF_EVENTS_* key as a commented example Wharf accepts',
    (file) => {
      const examples = commentedExamples(file);
      const eventKeys = [...KNOWN].filter((k) => k.startsWith('WHARF_EVENTS_')).sort();
      expect(eventKeys.length).toBeGreaterThan(5);
      const shown = Object.keys(examples).filter((k) => k.startsWith('WHARF_EVENTS_'));
      // The ConfigMap points to secret.yaml for a secret (the headers) instead.
      const expected = file.startsWith('k8s/') ? eventKeys.filter((k) => !SECRET.has(k)) : eventKeys;
      expect(shown.sort()).toEqual(expected);
      expect(Object.keys(examples).filter((k) => !KNOWN.has(k))).toEqual([]);
      const events = loadConfig({ WHARF_DATA_DIR: '/tmp/wharf-deploy', ...examples }).events;
      expect(events.webhooks.map((w) => w.name)).toEqual(['audit']);
    },
  );

  describe('k8s/', () => {
    const docs: { kind: string; metadata: { name: string }; [k: string]: unknown }[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(entry.name)) {
          for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
            expect({ file: p, errors: doc.errors.map(String) }).toEqual({ file: p, errors: [] });
            const value = doc.toJS();
            if (value) docs.push(value);
          }
        }
      }
    };
    walk(join(ROOT, 'k8s'));
    const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
    const configMaps = new Map(byKind('ConfigMap').map((d) => [d.metadata.name, d.data as Env]));
    const secrets = new Map(byKind('Secret').map((d) => [d.metadata.name, d.stringData as Env]));

    it('has Deployments with probes, Services, an HPA for each service, PDBs and NetworkPolicies', () => {
      const deployments = byKind('Deployment').map((d) => d.metadata.name);
      expect(deployments.sort()).toEqual(['wharf-blob', 'wharf-gateway', 'wharf-metadata']);
      for (const d of byKind('Deployment')) {
        const c = (d as any).spec.template.spec.containers[0];
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      }
      expect(
        byKind('HorizontalPodAutoscaler')
          .map((h) => (h as any).spec.scaleTargetRef.name)
          .sort(),
      ).toEqual(['wharf-blob', 'wharf-gateway', 'wharf-metadata']);
      expect(byKind('PodDisruptionBudget').length).toBeGreaterThanOrEqual(3);
      expect(byKind('NetworkPolicy').length).toBeGreaterThanOrEqual(3);
      expect(
        byKind('StatefulSet')
          .map((s) => s.metadata.name)
          .sort(),
      ).toEqual(['minio', 'nats', 'postgres']);
    });

    it('keeps secrets out of ConfigMaps', () => {
      const inConfigMaps = [...configMaps.values()].flatMap((data) => Object.keys(data ?? {}));
      expect(inConfigMaps.length).toBeGreaterThan(5);
      expect(inConfigMaps.filter((k) => SECRET.has(k))).toEqual([]);
      expect(SECRET).toContain('WHARF_INTERNAL_TOKEN');
    });

    it('gives every Wharf container an environment it accepts, with only keys Wharf reads', () => {
      let checked = 0;
      for (const d of [...byKind('Deployment'), ...byKind('Job')]) {
        for (const c of (d as any).spec.template.spec.containers as any[]) {
          const role = roleOf(c.args);
          if (!role) continue;
          const env: Env = {};
          for (const from of c.envFrom ?? []) Object.assign(env, configMaps.get(from.configMapRef.name));
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            env[e.name] = ref ? secrets.get(ref.name)?.[ref.key] : e.value;
            expect({ key: e.name, value: env[e.name] }).toEqual({ key: e.name, value: expect.any(String) });
          }
          expectValid(`k8s ${d.metadata.name}`, role, env);
          checked++;
        }
      }
      expect(checked).toBe(4);
    });
  });
});
