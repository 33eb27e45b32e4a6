/**
 * Builds the print adapters the configuration names, by id (the `:printerId` of the webhook
 * route and the order's `printerId`), and the embedded printer simulator. Every vendor with
 * credentials is included, not only the configured one, so webhooks for orders placed before a
 * switch still verify.
 */
import type Router from '@koa/router';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { PrintAdapter } from './port.js';
import { PrintfulPrintAdapter } from './printful/adapter.js';
import { ProdigiPrintAdapter } from './prodigi/adapter.js';
import { SimPrintAdapter } from './sim/adapter.js';
import { PrinterSim } from './sim/printer.js';
import { printerSimRoutes, type SimOperatorAccess } from './sim/routes.js';

export type PrintAdapters = ReadonlyMap<string, PrintAdapter>;

export interface PrintAdapterDeps {
  /** The app's public URL: vendors call back to `<publicUrl>/webhooks/printers/<id>`. */
  publicUrl: string;
  /** The simulator's secret (PRINTER_SIM_WEBHOOK_SECRET, or the one kept under DATA_DIR): given → the sim adapter is included. */
  simSecret?: string;
}

export const printerWebhookUrl = (publicUrl: string, printerId: string) => `${publicUrl}/webhooks/printers/${printerId}`;
/** The simulator's base URL: PRINTER_SIM_URL, or the one mounted on this app. */
export const simBaseUrl = (printer: Config['printer'], publicUrl: string) => printer.sim.url ?? `${publicUrl}/printer-sim`;

export function createPrintAdapters(printer: Config['printer'], deps: PrintAdapterDeps): PrintAdapters {
  const adapters: PrintAdapter[] = [];
  if (deps.simSecret) adapters.push(new SimPrintAdapter({ baseUrl: simBaseUrl(printer, deps.publicUrl), secret: deps.simSecret }));
  else if (printer.id === 'sim') throw new Error('PRINTER=sim needs the simulator secret (simSecret)');
  if (printer.printful) adapters.push(new PrintfulPrintAdapter(printer.printful));
  if (printer.prodigi) {
    adapters.push(new ProdigiPrintAdapter({ ...printer.prodigi, callbackUrl: printerWebhookUrl(deps.publicUrl, 'prodigi') }));
  }
  return new Map(adapters.map((a) => [a.id, a]));
}

/**
 * Who may press the simulator's fail switch, which makes an order fail and so refunds it: the
 * holder of OPS_TOKEN when one is set; without one, anyone on the embedded default with local
 * payments (nothing real is paid or printed there), and nobody once real payments are taken.
 */
export function simOperatorAccess(paymentProvider: Config['payments']['provider'], opsToken: string | undefined): SimOperatorAccess {
  if (opsToken) return { token: opsToken };
  return paymentProvider === 'local' ? 'open' : 'absent';
}

/**
 * The printer simulator of the embedded stack: mount `routes` on the app, `sim.start()` once the
 * app listens (its webhooks come back to the app), `sim.stop()` before closing the database.
 */
export function embeddedPrinterSim(
  printer: Config['printer'],
  deps: { db: Database; publicUrl: string; secret: string; paymentProvider: Config['payments']['provider']; opsToken?: string; logger?: Logger },
): { sim: PrinterSim; routes: Router } {
  const sim = new PrinterSim({
    db: deps.db,
    secret: deps.secret,
    webhookUrl: printerWebhookUrl(deps.publicUrl, 'sim'),
    baseUrl: `${deps.publicUrl}/printer-sim`,
    stepSeconds: printer.sim.stepSeconds,
    logger: deps.logger,
  });
  return { sim, routes: printerSimRoutes({ sim, secret: deps.secret, operator: simOperatorAccess(deps.paymentProvider, deps.opsToken) }) };
}
