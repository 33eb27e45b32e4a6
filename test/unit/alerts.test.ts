/** Each alert channel speaks its service's wire format to a real HTTP server; the activity fans out. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createAlertActivities } from '../../src/activities/alerts.js';
import { ConsoleAlertChannel } from '../../src/alerts/console.js';
import { createAlertChannels, type AlertChannel, type OperatorAlert } from '../../src/alerts/index.js';
import { PushoverAlertChannel } from '../../src/alerts/pushover.js';
import { SlackAlertChannel } from '../../src/alerts/slack.js';
import { WebhookAlertChannel } from '../../src/alerts/webhook.js';
import { httpRecorder } from '../support/http-recorder.js';

const alert: OperatorAlert = {
  title: 'AnimationWorkflow failed at animate',
  workflowType: 'AnimationWorkflow',
  workflowId: 'animation:abc',
  runId: 'run-1',
  failedStep: 'animate',
  error: 'ProviderRejected: provider said no',
  refund: 'refunded 1 credit(s) (balance now 3)',
  temporalUiUrl: 'http://localhost:8233/namespaces/default/workflows/animation%3Aabc/run-1/history',
  occurredAt: '2026-11-21T00:00:00.000Z',
};

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const recorder = async (...args: Parameters<typeof httpRecorder>) => {
  const r = await httpRecorder(...args);
  servers.push(r);
  return r;
};

describe('alert channels', () => {
  it('webhook: posts the alert as JSON', async () => {
    const hook = await recorder(() => ({ status: 204 }));
    await new WebhookAlertChannel(`${hook.url}/hooks/ops`).send(alert);
    expect(hook.requests[0]).toMatchObject({ method: 'POST', url: '/hooks/ops' });
    expect(hook.requests[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({ type: 'stickerflow.operator_alert', alert });
  });

  it('Slack: text plus blocks with a button to the Temporal UI', async () => {
    const slack = await recorder(() => ({ status: 200, body: 'ok', type: 'text/plain' }));
    await new SlackAlertChannel(`${slack.url}/services/T/B/X`).send(alert);
    const body = JSON.parse(slack.requests[0]!.body);
    expect(body.text).toContain(alert.title);
    expect(JSON.stringify(body.blocks)).toContain(alert.error);
    expect(body.blocks.at(-1).elements[0].url).toBe(alert.temporalUiUrl);
  });

  it('Slack: a refusal is a failed delivery carrying Slack\'s reason', async () => {
    const slack = await recorder(() => ({ status: 400, body: 'invalid_payload', type: 'text/plain' }));
    await expect(new SlackAlertChannel(slack.url).send(alert)).rejects.toThrow('Slack answered 400: invalid_payload');
  });

  it('Pushover: form-encoded message with token, user and the UI link', async () => {
    const po = await recorder(() => ({ status: 200, body: JSON.stringify({ status: 1, request: 'r1' }) }));
    await new PushoverAlertChannel({ token: 'tok', user: 'usr', apiUrl: `${po.url}/1/messages.json` }).send(alert);
    const form = new URLSearchParams(po.requests[0]!.body);
    expect(po.requests[0]!.headers['content-type']).toContain('application/x-www-form-urlencoded');
    expect(Object.fromEntries(form)).toMatchObject({ token: 'tok', user: 'usr', title: alert.title, url: alert.temporalUiUrl });
    expect(form.get('message')).toContain('refunded 1 credit');
  });

  it('Pushover: status 0 or a 4xx is a failed delivery', async () => {
    const po = await recorder(() => ({ status: 400, body: JSON.stringify({ status: 0, errors: ['user identifier is invalid'] }) }));
    await expect(new PushoverAlertChannel({ token: 't', user: 'u', apiUrl: po.url }).send(alert)).rejects.toThrow(
      'user identifier is invalid',
    );
  });

  it('console: prints every field an operator needs', async () => {
    let out = '';
    await new ConsoleAlertChannel((t) => (out += t)).send(alert);
    for (const v of [alert.workflowId, alert.failedStep, alert.error, alert.refund, alert.temporalUiUrl]) expect(out).toContain(v);
  });

  it('configuration picks the channels: console always, others when set', () => {
    expect(createAlertChannels({}).map((c) => c.name)).toEqual(['console']);
    expect(
      createAlertChannels({
        webhookUrl: 'http://h',
        slackWebhookUrl: 'http://s',
        pushover: { token: 't', user: 'u', apiUrl: 'http://p' },
      }).map((c) => c.name),
    ).toEqual(['console', 'webhook', 'slack', 'pushover']);
  });
});

describe('alertOperator activity', () => {
  const channel = (name: string, fail: () => boolean, sent: string[]): AlertChannel => ({
    name,
    async send() {
      if (fail()) throw new Error(`${name} down`);
      sent.push(name);
    },
  });

  it('builds the alert from the activity context, with a Temporal UI link', async () => {
    const got: OperatorAlert[] = [];
    const acts = createAlertActivities({
      channels: [{ name: 'r', send: async (a) => void got.push(a) }],
      temporalUiUrl: 'http://ui:8233',
      namespace: 'default',
    });
    const env = new MockActivityEnvironment({
      workflowType: 'AnimationWorkflow',
      workflowExecution: { workflowId: 'animation:1', runId: 'run-9' },
    });
    await env.run(acts.alertOperator, { failedStep: 'segment', error: 'E: x', refund: 'refunded 1 credit(s)' });
    expect(got[0]).toMatchObject({
      workflowType: 'AnimationWorkflow',
      workflowId: 'animation:1',
      failedStep: 'segment',
      temporalUiUrl: 'http://ui:8233/namespaces/default/workflows/animation%3A1/run-9/history',
    });
  });

  it('on a retry after a partial failure, resends only to the channels that failed', async () => {
    const sent: string[] = [];
    let slackDown = true;
    const acts = createAlertActivities({
      channels: [channel('console', () => false, sent), channel('slack', () => slackDown, sent)],
      temporalUiUrl: 'http://ui',
      namespace: 'default',
    });
    const first = new MockActivityEnvironment();
    let details: unknown;
    first.on('heartbeat', (d: unknown) => (details = d));
    await expect(first.run(acts.alertOperator, { failedStep: 's', error: 'e', refund: 'r' })).rejects.toThrow('slack down');
    expect(details).toEqual(['console']);

    slackDown = false;
    const retry = new MockActivityEnvironment({ heartbeatDetails: details, attempt: 2 });
    expect(await retry.run(acts.alertOperator, { failedStep: 's', error: 'e', refund: 'r' })).toEqual({ delivered: ['console', 'slack'] });
    expect(sent).toEqual(['console', 'slack']);
  });
});
