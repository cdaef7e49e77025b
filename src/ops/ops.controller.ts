import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { ApiProblem } from '../common/openapi.decorators.js';
import { AppError } from '../common/problem.js';
import { Public } from '../identity/public.decorator.js';
import { MetricsService } from './metrics.service.js';

const HealthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const ReadySchema = z.object({ status: z.literal('ready'), database: z.literal('up'), migrations: z.literal('applied') }).meta({ id: 'Ready' });

@ApiTags('operations')
@Public()
@Controller()
export class OpsController {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ standardSchema: HealthSchema })
  healthz() {
    return { status: 'ok' as const };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'The database answers and every migration is applied' })
  @ApiOkResponse({ standardSchema: ReadySchema })
  @ApiProblem(503, '`not_ready`: the database does not answer, or migrations are pending')
  async readyz() {
    try {
      await this.db.query('SELECT 1');
    } catch {
      throw new AppError(503, 'not_ready', 'Not ready', 'The database does not answer');
    }
    if (await this.db.showMigrations()) throw new AppError(503, 'not_ready', 'Not ready', 'Migrations are pending');
    return { status: 'ready' as const, database: 'up' as const, migrations: 'applied' as const };
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } })
  @Header('Cache-Control', 'no-store')
  async metricsText(@Res() response: Response): Promise<void> {
    response.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}

