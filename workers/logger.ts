import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { Config } from '../config/config';

/**
 * The worker's one log sink (style.md §9): pino, JSON lines, behind the Temporal SDK's Logger interface,
 * so that workflow `log`, activity `log` and the SDK's own messages all end up in the same stream.
 */

export type PinoLogger = pino.Logger;

export function createLogger(level: Config['logLevel'], destination: pino.DestinationStream = pino.destination(1)): PinoLogger {
  return pino({ level, base: { service: 'nightshift-worker' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

const METHOD: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Adapts pino to the SDK's Logger; errors in the metadata keep their stack under `err`. */
export function temporalLogger(logger: PinoLogger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    const fields: Record<string, unknown> = { ...meta };
    if (fields.error instanceof Error) {
      fields.err = fields.error;
      delete fields.error;
    }
    logger[METHOD[level]](fields, message);
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}
