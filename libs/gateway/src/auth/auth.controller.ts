import { Controller, Get, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TokenEndpoint } from './token.endpoint';

/** The built-in token service; answers 404 unless WHARF_AUTH_MODE=token. */
@Controller('auth')
export class AuthController {
  constructor(private readonly endpoint: TokenEndpoint) {}

  @Get('token')
  getToken(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    reply.hijack();
    return this.endpoint.get(req.raw, reply.raw);
  }

  @Post('token')
  postToken(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    reply.hijack();
    return this.endpoint.post(req.raw, reply.raw);
  }

  @Get('jwks.json')
  jwks(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    reply.hijack();
    this.endpoint.jwks(req.raw, reply.raw);
  }
}
