import { Module } from '@nestjs/common';
import { WebController } from './web.controller.js';

/** The operations page (web/, built by Vite into dist/web) and its assets. */
@Module({ controllers: [WebController] })
export class WebModule {}
