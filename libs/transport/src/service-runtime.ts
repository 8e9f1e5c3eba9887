import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamicModule, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { observe, type ObserveOptions } from '@wharf/observability';
import { acceptBursts } from './accept-fanout';
import type { Lifecycle } from './health';

export interface RunningService {
  app: NestFastifyApplication;
  /** http(s)://host:port of the service's one HTTP port. */
  url: string;
  /** Drain: stop accepting, finish what is in flight (bounded by the shutdown timeout), close. */
  close(): Promise<void>;
}

/**
 * Starts one service of the distributed shape on its HTTP port (WHARF_HTTP_ADDR), optionally with a
 * NATS transport (`microservice`) in the same process, as a Nest hybrid application.
 */
export async function startService(opts: {
  module: DynamicModule;
  http: { host: string; port: number };
  /** Built by the caller: its options are the app's own (the gateway's come from GatewayModule). */
  adapter: FastifyAdapter;
  logger: LoggerService;
  lifecycle: Lifecycle;
  shutdownTimeoutMs: number;
  configure?: (app: NestFastifyApplication) => void;
  microservice?: Parameters<NestFastifyApplication['connectMicroservice']>[0];
  tls?: boolean;
  /** Request ids, traces and /metrics for this service (see libs/observability). */
  observe?: ObserveOptions;
}): Promise<RunningService> {
  const app = await NestFactory.create<NestFastifyApplication>(opts.module, opts.adapter, {
    bodyParser: false,
    logger: opts.logger,
    abortOnError: false,
  });
  opts.configure?.(app);
  const observability = opts.observe ? await observe(app.getHttpServer() as Server, opts.observe) : undefined;
  if (opts.microservice) {
    app.connectMicroservice(opts.microservice, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  acceptBursts(app, (e) => opts.logger.warn(`extra accept descriptors unavailable: ${e.message}`));
  await app.listen(opts.http.port, opts.http.host);
  const address = app.getHttpServer().address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${opts.tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    close: () => {
      closing ??= (async () => {
        opts.lifecycle.draining = true;
        // app.close() waits for in-flight HTTP requests and (DrainingNatsServer) NATS requests; a
        // stuck one must not keep a pod in Terminating forever.
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, opts.shutdownTimeoutMs);
          timer.unref();
        });
        // Keep-alive connections that fall idle once their request is answered would hold the
        // server open until the client lets go; close each as soon as it is idle.
        const server = app.getHttpServer() as Server;
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        await Promise.race([app.close(), deadline]);
        clearInterval(sweep);
        clearTimeout(timer);
        server.closeAllConnections();
        await observability?.close();
      })();
      return closing;
    },
  };
}

/** SIGTERM/SIGINT drain the service, then exit; a second signal exits at once. */
export function exitOnSignal(service: RunningService, log: (msg: string) => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log(`${signal}: draining`);
    service
      .close()
      .then(() => process.exit(0))
      .catch((e) => {
        log(`shutdown after ${signal} failed: ${(e as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
