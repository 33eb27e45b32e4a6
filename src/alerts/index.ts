import type { Config } from '../config.js';
import { ConsoleAlertChannel } from './console.js';
import type { AlertChannel } from './port.js';
import { PushoverAlertChannel } from './pushover.js';
import { SlackAlertChannel } from './slack.js';
import { WebhookAlertChannel } from './webhook.js';

/** Console always; each remote channel when configured. */
export function createAlertChannels(alerts: Config['alerts']): AlertChannel[] {
  const channels: AlertChannel[] = [new ConsoleAlertChannel()];
  if (alerts.webhookUrl) channels.push(new WebhookAlertChannel(alerts.webhookUrl));
  if (alerts.slackWebhookUrl) channels.push(new SlackAlertChannel(alerts.slackWebhookUrl));
  if (alerts.pushover) channels.push(new PushoverAlertChannel(alerts.pushover));
  return channels;
}
export * from './port.js';
