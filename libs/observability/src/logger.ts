import type { LoggerService } from '@nestjs/common';
import pino, { type LevelWithSilent, type Logger } from 'pino';
import { currentContext } from './request-context';

/**
 * Structured JSON logs (pino) for the whole process; Nest's own messages go through it too. A line
 * written while serving a request carries its id (`reqId`), the same in every service it crossed.
 */
export function createLogger(level: LevelWithSilent, name = 'wharf'): Logger {
  return pino({ name, level, base: { pid: process.pid }, mixin: requestFields });
}

function requestFields(): object {
  const ctx = currentContext();
  return ctx ? { reqId: ctx.requestId } : {};
}

/**
 * Nest announces every module it wires and every route it maps at `log` level: dozens of lines that
 * bury the few a start should show (address, data, auth). They stay available at `debug`.
 */
const WIRING_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
  'NestMicroservice',
]);

export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    if (context !== undefined && WIRING_CONTEXTS.has(context))
      this.logger.debug({ context }, String(message));
    else this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
