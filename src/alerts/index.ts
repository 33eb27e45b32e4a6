import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { ConsoleAlertChannel } from './console.js';
import { DatabaseAlertChannel } from './database.js';
import type { AlertChannel } from './port.js';
import { PushoverAlertChannel } from './pushover.js';
import { SlackAlertChannel } from './slack.js';
import { WebhookAlertChannel } from './webhook.js';

/** Console always, the database (for the operator console) where there is one; each remote channel when configured. */
export function createAlertChannels(alerts: Config['alerts'], db?: Database): AlertChannel[] {
  const channels: AlertChannel[] = [new ConsoleAlertChannel(), ...(db ? [new DatabaseAlertChannel(db)] : [])];
  if (alerts.webhookUrl) channels.push(new WebhookAlertChannel(alerts.webhookUrl));
  if (alerts.slackWebhookUrl) channels.push(new SlackAlertChannel(alerts.slackWebhookUrl));
  if (alerts.pushover) channels.push(new PushoverAlertChannel(alerts.pushover));
  return channels;
}
export * from './port.js';
