import { alertText, postOrThrow, type AlertChannel, type OperatorAlert } from './port.js';

/** Pushover's message API: form-encoded; `{status: 1}` means accepted. */
export class PushoverAlertChannel implements AlertChannel {
  readonly name = 'pushover';
  constructor(private readonly opts: { token: string; user: string; apiUrl: string }) {}
  async send(alert: OperatorAlert): Promise<void> {
    const form = new URLSearchParams({
      token: this.opts.token,
      user: this.opts.user,
      title: alert.title.slice(0, 250),
      message: alertText(alert).slice(0, 1024),
      url: alert.temporalUiUrl,
      url_title: 'Open in Temporal UI',
      priority: '1',
    });
    const res = await postOrThrow('Pushover', this.opts.apiUrl, { body: form });
    const body = (await res.json().catch(() => ({}))) as { status?: number; errors?: string[] };
    if (body.status !== 1) throw new Error(`Pushover refused the message: ${(body.errors ?? []).join('; ')}`);
  }
}
