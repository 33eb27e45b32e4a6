import type { AlertChannel, OperatorAlert } from '../../src/alerts/port.js';

/** An alert channel that keeps what it was sent, for assertions. */
export class RecordingAlertChannel implements AlertChannel {
  readonly name = 'recording';
  readonly sent: OperatorAlert[] = [];
  onSend?: (alert: OperatorAlert) => void;
  async send(alert: OperatorAlert): Promise<void> {
    this.sent.push(alert);
    this.onSend?.(alert);
  }
}
