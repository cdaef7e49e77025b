import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { ApiProblem, ApiProblems, PASSWORD_HASHING_503 } from '../common/openapi.decorators.js';
import { CurrentRequest, requestContext, type RequestContext } from '../common/request-context.js';
import { SelfService } from '../policy/authorize.decorator.js';
import { CurrentActor } from './current-actor.decorator.js';
import type { UserActor } from './actor.js';
import { AuthService, SESSION_COOKIE, SESSION_TTL_SECONDS } from './auth.service.js';
import {
  CreatedTokenSchema,
  CreateTokenWithPasswordSchema,
  LoginResponseSchema,
  LoginSchema,
  MeSchema,
  type CreateTokenWithPasswordBody,
  type LoginBody,
} from './identity.schemas.js';
import type { Member } from './member.entity.js';
import { Public } from './public.decorator.js';

export function meView(actor: Pick<UserActor, 'id' | 'email' | 'name' | 'role' | 'orgId' | 'teamIds'>) {
  return { id: actor.id, email: actor.email, name: actor.name, role: actor.role, orgId: actor.orgId, teamIds: actor.teamIds };
}

@ApiTags('identity')
@Controller('api/v1')
export class AuthController {
  constructor(
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in; sets the HttpOnly session cookie' })
  @ApiOkResponse({ standardSchema: LoginResponseSchema })
  @ApiProblems(400, 401, 413, 429)
  @ApiProblem(503, PASSWORD_HASHING_503)
  async login(@Body({ schema: LoginSchema }) body: LoginBody, @CurrentRequest() context: RequestContext, @Res({ passthrough: true }) response: Response) {
    const member = await this.auth.checkPassword(body.email, body.password, 'session', context);
    const session = await this.auth.createSession(member, context);
    response.cookie(SESSION_COOKIE, session.secret, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.publicUrl?.startsWith('https://') ?? false,
      path: '/',
      maxAge: SESSION_TTL_SECONDS * 1000,
    });
    const teamIds = await this.auth.teamIdsOf(member.id);
    return { user: meView({ ...member, teamIds }) };
  }

  @Public()
  @Post('auth/logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the browser session' })
  @ApiNoContentResponse({ description: 'The session is over (also when there was none)' })
  @ApiProblems(403)
  async logout(@Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<void> {
    const secret = (request.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    if (secret) await this.auth.endSession(secret, requestContext(request));
    response.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Public()
  @Post('auth/token')
  @ApiOperation({ summary: 'Create a personal access token with email and password; the token is shown once' })
  @ApiCreatedResponse({ standardSchema: CreatedTokenSchema })
  @ApiProblems(400, 401, 413, 429)
  @ApiProblem(503, PASSWORD_HASHING_503)
  async tokenWithPassword(@Body({ schema: CreateTokenWithPasswordSchema }) body: CreateTokenWithPasswordBody, @CurrentRequest() context: RequestContext) {
    const member: Member = await this.auth.checkPassword(body.email, body.password, 'token', context);
    return this.auth.createToken(member, body.name, body.expiresInSeconds, 'password', context);
  }

  @SelfService()
  @Get('me')
  @ApiBearerAuth()
  @ApiCookieAuth()
  @ApiOperation({ summary: 'Who am I' })
  @ApiOkResponse({ standardSchema: MeSchema })
  @ApiProblems(401)
  me(@CurrentActor() actor: UserActor) {
    return meView(actor);
  }
}
