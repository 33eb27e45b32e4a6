import { postOrThrow, type AlertChannel, type OperatorAlert } from './port.js';

/** Generic webhook: the alert as JSON, for any incident tool that accepts one. */
export class WebhookAlertChannel implements AlertChannel {
  readonly name = 'webhook';
  constructor(private readonly url: string) {}
  async send(alert: OperatorAlert): Promise<void> {
    await postOrThrow('alert webhook', this.url, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'stickerflow.operator_alert', alert }),
    });
  }
}
