import { All, Controller, Get, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryDispatcher } from './registry.dispatcher';

@Controller()
export class RegistryController {
  constructor(private readonly dispatcher: RegistryDispatcher) {}

  /**
   * The whole /v2 API. The handlers write to Node's response directly (hijacked from Fastify) so
   * blob bytes stream with backpressure and HEAD keeps its Content-Length.
   */
  @All(['v2', 'v2/*'])
  v2(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    reply.hijack();
    return this.dispatcher.dispatch(req.raw, reply.raw);
  }

  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }
}
