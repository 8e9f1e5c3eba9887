import {
  Controller,
  Get,
  Inject,
  Module,
  Res,
  type DynamicModule,
  type InjectionToken,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Each check answers a map of dependency → "ok" or what is wrong with it. */
export type ReadinessCheck = () => Promise<Record<string, string>>;
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

/** Flipped by SIGTERM: a draining replica reports not ready so load balancers move on. */
export class Lifecycle {
  draining = false;
}

@Controller()
class ReadinessController {
  constructor(
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
  ) {}

  @Get('readyz')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const results: Record<string, string> = {};
    await Promise.all(
      this.checks.map(async (check) => {
        try {
          Object.assign(results, await check());
        } catch (e) {
          results.check = (e as Error).message;
        }
      }),
    );
    if (this.lifecycle.draining) results.shutdown = 'draining';
    const ready = Object.values(results).every((v) => v === 'ok');
    await reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
  }
}

@Controller()
class LivenessController {
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }
}

/**
 * `/readyz` (dependencies reachable) and `/healthz` (alive: the event loop answers). Liveness never
 * looks at dependencies, so an outage elsewhere does not get healthy pods restarted.
 */
@Module({})
export class HealthModule {
  static register<D extends unknown[]>(opts: {
    lifecycle: Lifecycle;
    /** Providers the checks need (a data source, the cluster clients). */
    inject: InjectionToken[];
    checks: (...deps: D) => ReadinessCheck[];
  }): DynamicModule {
    return {
      module: HealthModule,
      controllers: [ReadinessController, LivenessController],
      providers: [
        {
          provide: READINESS_CHECKS,
          inject: opts.inject,
          useFactory: (...deps: unknown[]) => opts.checks(...(deps as D)),
        },
        { provide: Lifecycle, useValue: opts.lifecycle },
      ],
    };
  }
}
