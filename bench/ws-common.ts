/**
 * What the live-stream benchmarks share: the simulated exchange in its own process (so the
 * process measured is loader-ws alone), a live loader on it, and live start commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { createLiveLoader, type LiveLoader } from '../functions/loader-ws/handler.ts';
import { DEFAULT_SETTINGS, type LiveSettings } from '../functions/loader-ws/schema.ts';
import type { EventBus } from '../shared/bus/event-bus.ts';
import type { WorkflowType } from '../shared/contracts/workflow.ts';
import { createExchangeClient } from '../shared/exchange/rest-client.ts';
import { createWeightBudget } from '../shared/exchange/weight-budget.ts';
import type { Store } from '../shared/store/store.ts';
import { commandEvent, liveCommand } from '../test/loader-ws/helpers.ts';

export const silent = pino({ level: 'silent' });

export interface SimProcess {
  url: string;
  wsUrl: string;
  child: ChildProcess;
  stop(): void;
}

/** `sim-main.ts` on a free loopback port with `env` (SIM_*), ready when it answers /ping. */
export async function startSimProcess(env: Record<string, string>): Promise<SimProcess> {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'functions/dummy-service/exchange/sim-main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SIM_GAPS: 'none',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/api/v3/ping`)).ok) break;
    } catch {
      if (i > 200) throw new Error('the simulator did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, wsUrl: `ws://127.0.0.1:${port}`, child, stop: () => child.kill('SIGTERM') };
}

/**
 * A live loader on the simulator, with its own REST budget. The budget follows the simulator's
 * used-weight headers, which count per IP across runs: against an unlimited simulator
 * (SIM_WEIGHT_LIMIT=0) pass a limit as large, or a second phase waits for the next minute.
 */
export function benchLoader(
  sim: SimProcess,
  bus: EventBus,
  store: Store,
  settings: Partial<LiveSettings> = {},
  weightLimit = 6000,
): LiveLoader {
  const client = () =>
    createExchangeClient({
      baseUrl: sim.url,
      budget: createWeightBudget({
        limit: weightLimit,
        windowMs: 60_000,
        margin: 0.05,
        maxInflightRequests: 4,
      }),
      timeoutMs: 5000,
    });
  return createLiveLoader({
    bus,
    store,
    logger: silent,
    settings: { ...DEFAULT_SETTINGS, ...settings },
    clients: { spot: client(), usdm: client() },
    wsUrls: { spot: sim.wsUrl, usdm: `${sim.wsUrl}/usdm` },
  });
}

/** Starts a live workflow of `type` on `symbol` over [start, end) (end open by default). */
export async function startLive(
  loader: LiveLoader,
  type: WorkflowType,
  symbol: string,
  range: { start?: number; end?: number } = {},
): Promise<void> {
  await loader.handleEvent(commandEvent(liveCommand(type, { symbol, ...range })));
}
