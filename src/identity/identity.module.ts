import { Module } from '@nestjs/common';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { MembersController } from './members.controller.js';
import { MembersService } from './members.service.js';
import { OrgsController } from './orgs.controller.js';
import { OrgsService } from './orgs.service.js';
import { PasswordsService } from './passwords.service.js';
import { SignInLimitsService } from './sign-in-limits.service.js';
import { TeamsController } from './teams.controller.js';
import { TeamsService } from './teams.service.js';
import { TokensController } from './tokens.controller.js';

@Module({
  controllers: [AuthController, TokensController, MembersController, TeamsController, OrgsController],
  providers: [AuthService, AuthGuard, MembersService, TeamsService, OrgsService, PasswordsService, SignInLimitsService],
  exports: [AuthService, AuthGuard, OrgsService, MembersService, TeamsService],
})
export class IdentityModule {}
