import { Controller, Get, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../identity/public.decorator.js';
import { pageHeaders, pageShell } from './web-assets.js';

/**
 * The page's routes (API.md "The page"): each answers the app's shell, which routes in the browser, so
 * deep links and reloads work. What each shows is decided by the API calls the app makes.
 */
@ApiExcludeController()
@Controller()
export class WebController {
  @Get(['/', 'runs/:id', 'artifacts/:id'])
  @Public()
  page(@Req() request: Request, @Res() response: Response): void {
    const html = pageShell();
    if (html === undefined) throw new ServiceUnavailableException('The page is not built: run `npm run build`.');
    response.set(pageHeaders(`${request.protocol}://${request.get('host')}`)).send(html);
  }
}
