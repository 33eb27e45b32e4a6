import { alertText, postOrThrow, type AlertChannel, type OperatorAlert } from './port.js';

/** Slack incoming webhook: `text` for notifications, blocks for a readable message with a button. */
export class SlackAlertChannel implements AlertChannel {
  readonly name = 'slack';
  constructor(private readonly webhookUrl: string) {}
  async send(alert: OperatorAlert): Promise<void> {
    await postOrThrow('Slack', this.webhookUrl, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        text: `:rotating_light: ${alert.title}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: alert.title.slice(0, 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: '```' + alertText(alert) + '```' } },
          {
            type: 'actions',
            elements: [
              { type: 'button', text: { type: 'plain_text', text: 'Open in Temporal UI' }, url: alert.temporalUiUrl },
            ],
          },
        ],
      }),
    });
  }
}
