/** pino JSON logs; child loggers carry `fn`, and `event_id`/`queue_id` where known. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(fn: string, level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name: fn, level, base: { fn } });
}
