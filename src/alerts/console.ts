import { alertText, type AlertChannel, type OperatorAlert } from './port.js';

/** Always on: one block on stderr, where the embedded stack's operator is looking. */
export class ConsoleAlertChannel implements AlertChannel {
  readonly name = 'console';
  constructor(private readonly write: (text: string) => void = (t) => process.stderr.write(t)) {}
  async send(alert: OperatorAlert): Promise<void> {
    this.write(`\n[ALERT] ${alert.title}\n${alertText(alert)}\n\n`);
  }
}
