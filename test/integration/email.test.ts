/**
 * Emails to shoppers through the real nodemailer against a real SMTP server started here
 * (smtp-server, with AUTH, plain and over TLS), and into the embedded outbox: each message reaches
 * the server once with the right links, a retry sends nothing more, a lost "250 OK" or a worker
 * dying between sending and recording sends exactly one more copy, marked as a possible duplicate;
 * an unreachable server is retried, a refused address is not; the outbox holds one parseable .eml
 * per key. The record and its claims run on PGlite and on PostgreSQL.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { simpleParser, type ParsedMail } from 'mailparser';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailActivities, type EmailRequest } from '../../src/activities/email.js';
import { loadConfig, redactConfig } from '../../src/config.js';
import { openPGlite, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrations.js';
import { createEmailSender } from '../../src/email/index.js';
import { emailIdempotencyKey, privateOrderUrl, renderEmail } from '../../src/email/messages.js';
import { OutboxTransport } from '../../src/email/outbox.js';
import { EmailInFlight, type EmailSender } from '../../src/email/port.js';
import { IdempotentEmailSender } from '../../src/email/sender.js';
import { SentEmails } from '../../src/email/sent-emails.js';
import { SmtpTransport } from '../../src/email/smtp.js';
import { OrderAccessTokens } from '../../src/orders/access-token.js';
import { OrderRepository } from '../../src/orders/repository.js';
import { AnimationRepository } from '../../src/animations/repository.js';
import { Customers } from '../../src/customers/customers.js';
import { CreditLedger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { callActivity } from '../support/activities.js';
import { databaseEngines } from '../support/ledger.js';

const PUBLIC_URL = 'http://shop.test:3000';
const FROM = 'stickerflow <orders@shop.test>';
const USER = 'mailer';
/** Needs percent-encoding in the URL: the transport must decode it, and nothing may print it. */
const PASSWORD = 'p@ss:w/rd-Secret42';
const smtpUrl = (port: number, opts: { scheme?: 'smtp' | 'smtps'; password?: string; query?: string } = {}) =>
  `${opts.scheme ?? 'smtp'}://${USER}:${encodeURIComponent(opts.password ?? PASSWORD)}@127.0.0.1:${port}${opts.query ?? ''}`;

interface Received {
  mail: ParsedMail;
  raw: string;
  user: unknown;
  recipients: string[];
}

/** A real SMTP server with AUTH (PLAIN and LOGIN); recipients at refused.test get a 550. */
async function startSmtpServer(opts: { secure?: boolean; dataDelayMs?: number } = {}) {
  const received: Received[] = [];
  const options: SMTPServerOptions = {
    secure: opts.secure ?? false,
    // Over plain smtp:// the client would take up STARTTLS with the server's self-signed certificate.
    disabledCommands: opts.secure ? [] : ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASSWORD) return callback(null, { user: USER });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith('@refused.test')) return callback(Object.assign(new Error('No such mailbox here'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        void simpleParser(raw).then((mail) => {
          received.push({ mail, raw: raw.toString('utf8'), user: session.user, recipients: session.envelope.rcptTo.map((r) => r.address) });
          setTimeout(() => callback(), opts.dataDelayMs ?? 0);
        }, callback);
      });
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * A TCP relay in front of the SMTP server that, while `cutAfterData` > 0, lets a message through
 * and then cuts both connections instead of passing on the server's "250 OK": the server has the
 * message, the client cannot know it.
 */
async function startAnswerCutter(targetPort: number) {
  const state = { cutAfterData: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    let tail = '';
    let cutting = false;
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    client.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('latin1')).slice(-5);
      if (state.cutAfterData > 0 && tail === '\r\n.\r\n') cutting = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!cutting) return void client.write(chunk);
      state.cutAfterData -= 1;
      closeBoth();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The database, except that recording a message as sent fails once, as if the worker died there. */
function dyingBeforeRecord(db: Database) {
  const state = { armed: true };
  const wrapped: Database = {
    kind: db.kind,
    query: (sql, params) => {
      if (state.armed && /SET status = 'sent'/.test(sql)) {
        state.armed = false;
        return Promise.reject(new Error('worker died between sending and recording'));
      }
      return db.query(sql, params);
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  };
  return { db: wrapped, state };
}

const newOrderId = () => `or_${randomBytes(12).toString('base64url')}`;
const TOKEN = 'ot_Priv4te-t0ken_';
const VIEWER_URL = `${PUBLIC_URL}/a/vt_buddyViewerToken`;
const TRACKING_URL = 'https://tracking.example/parcels/RM123456789GB?lang=en&src=mail';

/** One request of each kind for one order, and the links each must carry. */
function requestsFor(orderId: string, to = 'ada@example.com'): Array<{ request: EmailRequest; links: string[] }> {
  const base = { to, orderId, name: 'Ada Lovelace' };
  const orderUrl = privateOrderUrl(PUBLIC_URL, orderId, TOKEN);
  return [
    {
      request: {
        ...base,
        kind: 'order_confirmation',
        product: { shape: 'die-cut', sizeInches: 3, quantity: 10 },
        amountCents: 3999,
        currency: 'usd',
        shipping: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
      },
      links: [orderUrl],
    },
    { request: { ...base, kind: 'buddy_ready', viewerUrl: VIEWER_URL }, links: [VIEWER_URL, orderUrl] },
    { request: { ...base, kind: 'order_shipped', tracking: { carrier: 'Royal Mail', number: 'RM123456789GB', url: TRACKING_URL } }, links: [TRACKING_URL, orderUrl] },
    { request: { ...base, kind: 'order_delivered', viewerUrl: VIEWER_URL }, links: [VIEWER_URL, orderUrl] },
    { request: { ...base, kind: 'order_refunded', amountCents: 3999, currency: 'usd', reason: 'The printer could not print it' }, links: [orderUrl] },
  ];
}

/** The message the activity would send for `request`, for calling the sender directly. */
const renderEmailFor = (request: EmailRequest) => renderEmail(request, { publicUrl: PUBLIC_URL, accessToken: TOKEN });
/** Every order here has TOKEN (how tokens are derived and looked up is tested below, on real orders). */
const ordersWithToken = { accessTokenOf: async () => TOKEN };

async function openMigrated() {
  const db = await openPGlite();
  await migrate(db);
  return { db };
}

const confirmationFor = (orderId: string, to?: string) => requestsFor(orderId, to)[0]!;

const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));

/** What every delivered copy of `request` must look like. */
function expectMessage(mail: ParsedMail, request: EmailRequest, links: string[], messageId: string) {
  expect(mail.messageId).toBe(messageId);
  expect(mail.headers.get('x-stickerflow-idempotency-key')).toBe(emailIdempotencyKey(request));
  expect(mail.from?.value).toEqual([{ address: 'orders@shop.test', name: 'stickerflow' }]);
  expect((Array.isArray(mail.to) ? mail.to : [mail.to]).flatMap((a) => a?.value.map((v) => v.address))).toEqual([request.to]);
  expect(mail.subject).toBeTruthy();
  for (const link of links) {
    expect(mail.text).toContain(link);
    expect(hrefs(String(mail.html))).toContain(link);
  }
}

function recordingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', (l) => lines.push(l)) };
}

const thrown = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as ApplicationFailure,
  );

describe.each(databaseEngines)('emails over SMTP, recorded on %s', (_engine, open) => {
  let db: Database;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let cutter: Awaited<ReturnType<typeof startAnswerCutter>>;
  const env = new MockActivityEnvironment();
  beforeAll(async () => {
    db = await open();
    await migrate(db);
    smtp = await startSmtpServer();
    cutter = await startAnswerCutter(smtp.port);
  });
  afterAll(async () => {
    await cutter?.close();
    await smtp?.close();
    await db?.close();
  });

  const copiesOf = (key: string) => smtp.received.filter((r) => r.mail.headers.get('x-stickerflow-idempotency-key') === key);
  const smtpSender = (opts: { port?: number; database?: Database; claimLeaseMs?: number; password?: string } = {}) => {
    const log = recordingLogger();
    const sender = new IdempotentEmailSender(
      new SmtpTransport(smtpUrl(opts.port ?? smtp.port, { password: opts.password })),
      new SentEmails(opts.database ?? db, opts.claimLeaseMs),
      { from: FROM, logger: log.logger },
    );
    return { sender, ...log };
  };
  const activitiesOf = (email: EmailSender) => createEmailActivities({ email, publicUrl: PUBLIC_URL, orders: ordersWithToken });

  it('delivers each kind of message once, with the right links, and a retry sends nothing more', async () => {
    const orderId = newOrderId();
    const { sender, lines } = smtpSender();
    const { sendEmail } = activitiesOf(sender);
    const cases = requestsFor(orderId);
    for (const { request, links } of cases) {
      const result = await callActivity(env, sendEmail, request);
      expect(result).toMatchObject({ duplicate: false, alreadySent: false, idempotencyKey: emailIdempotencyKey(request) });
      const [copy, ...more] = copiesOf(result.idempotencyKey);
      expect(more).toEqual([]);
      expectMessage(copy!.mail, request, links, result.messageId);
      expect(copy!.user).toBe(USER); // logged in with the password decoded from the URL
      expect(copy!.recipients).toEqual([request.to]);
      expect(copy!.mail.headers.has('x-stickerflow-possible-duplicate')).toBe(false);
    }
    // Temporal retrying every one of them (or a workflow replaying) sends nothing.
    for (const { request } of cases) {
      const again = await callActivity(env, sendEmail, request);
      expect(again).toMatchObject({ alreadySent: true, duplicate: false });
      expect(copiesOf(again.idempotencyKey)).toHaveLength(1);
    }
    const records = await new SentEmails(db).forReference(orderId);
    expect(records.map((r) => [r.kind, r.status, r.attempts, r.possibleDuplicate, r.transport, r.recipient])).toEqual(
      cases.map(({ request }) => [request.kind, 'sent', 1, false, 'smtp', 'ada@example.com']),
    );
    expect(new Set(records.map((r) => r.messageId)).size).toBe(cases.length);
    expect(lines.join('')).not.toContain(PASSWORD);
    expect(lines.join('')).not.toContain('ada@example.com');
  });

  it('a lost "250 OK" sends the message once more, with the same Message-ID, marked and logged as a possible duplicate', async () => {
    const { request, links } = confirmationFor(newOrderId());
    const key = emailIdempotencyKey(request);
    const { sender, lines } = smtpSender({ port: cutter.port });
    const { sendEmail } = activitiesOf(sender);
    cutter.state.cutAfterData = 1;
    const failure = await thrown(callActivity(env, sendEmail, request));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'EmailUnavailable', nonRetryable: false });
    expect(copiesOf(key)).toHaveLength(1); // the server had it all along
    expect(await new SentEmails(db).get(key)).toMatchObject({ status: 'unknown', attempts: 1 });

    const retried = await callActivity(env, sendEmail, request);
    expect(retried).toMatchObject({ duplicate: true, alreadySent: false });
    const copies = copiesOf(key);
    expect(copies).toHaveLength(2);
    for (const c of copies) expectMessage(c.mail, request, links, retried.messageId);
    expect(copies[0]!.mail.headers.has('x-stickerflow-possible-duplicate')).toBe(false);
    expect(copies[1]!.mail.headers.get('x-stickerflow-possible-duplicate')).toBe('true');
    expect(lines.filter((l) => l.includes('WARN') && l.includes('outcome is unknown') && l.includes(key))).toHaveLength(1);
    expect(await new SentEmails(db).get(key)).toMatchObject({ status: 'sent', attempts: 2, possibleDuplicate: true });

    expect(await callActivity(env, sendEmail, request)).toMatchObject({ alreadySent: true });
    expect(copiesOf(key)).toHaveLength(2);
  });

  it('a worker dying between sending and recording: the retry waits out the claim, then sends one copy more, marked', async () => {
    const { request } = confirmationFor(newOrderId());
    const key = emailIdempotencyKey(request);
    const dying = dyingBeforeRecord(db);
    const leaseMs = 1500;
    const { sender, lines } = smtpSender({ database: dying.db, claimLeaseMs: leaseMs });
    const { sendEmail } = activitiesOf(sender);

    await expect(callActivity(env, sendEmail, request)).rejects.toThrow(/worker died/);
    expect(copiesOf(key)).toHaveLength(1);
    expect(await new SentEmails(db).get(key)).toMatchObject({ status: 'sending' });

    // Retried at once (an activity timeout while the first attempt might still be sending): wait.
    const early = await thrown(callActivity(env, sendEmail, request));
    expect(early).toMatchObject({ type: 'EmailInFlight', nonRetryable: false });
    expect(early.nextRetryDelay).toBeDefined();
    expect(copiesOf(key)).toHaveLength(1);

    await new Promise((r) => setTimeout(r, leaseMs + 100));
    const retried = await callActivity(env, sendEmail, request);
    expect(retried).toMatchObject({ duplicate: true, alreadySent: false });
    const copies = copiesOf(key);
    expect(copies).toHaveLength(2);
    expect(copies.map((c) => c.mail.messageId)).toEqual([retried.messageId, retried.messageId]);
    expect(copies[1]!.mail.headers.get('x-stickerflow-possible-duplicate')).toBe('true');
    expect(lines.some((l) => l.includes('WARN') && l.includes('outcome is unknown') && l.includes(key))).toBe(true);
    expect(await new SentEmails(db).get(key)).toMatchObject({ status: 'sent', attempts: 2, possibleDuplicate: true });
    expect(await callActivity(env, sendEmail, request)).toMatchObject({ alreadySent: true });
    expect(copiesOf(key)).toHaveLength(2);
  });

  it('two attempts at once: one sends, the other is told to retry later', async () => {
    const slow = await startSmtpServer({ dataDelayMs: 400 });
    try {
      const { request } = confirmationFor(newOrderId());
      const { sender } = smtpSender({ port: slow.port });
      const outcomes = await Promise.allSettled([sender, sender].map((s) => s.send(renderEmailFor(request))));
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
      expect(rejected.reason).toBeInstanceOf(EmailInFlight);
      expect(slow.received).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('an unreachable server is retried and nothing counts as sent; once it answers the message goes once, unmarked', async () => {
    const { request } = confirmationFor(newOrderId());
    const key = emailIdempotencyKey(request);
    const down = smtpSender({ port: await closedPort() });
    const failure = await thrown(callActivity(env, activitiesOf(down.sender).sendEmail, request));
    expect(failure).toMatchObject({ type: 'EmailUnavailable', nonRetryable: false });
    expect(failure.message).toMatch(/127\.0\.0\.1/);
    expect(failure.message).not.toContain(PASSWORD);
    const record = await new SentEmails(db).get(key);
    expect(record).toMatchObject({ status: 'failed', attempts: 1 });
    expect(record!.lastError).not.toContain(PASSWORD);

    const up = smtpSender();
    expect(await callActivity(env, activitiesOf(up.sender).sendEmail, request)).toMatchObject({ duplicate: false, alreadySent: false });
    expect(copiesOf(key)).toHaveLength(1);
    expect(copiesOf(key)[0]!.mail.headers.has('x-stickerflow-possible-duplicate')).toBe(false);
    expect(await new SentEmails(db).get(key)).toMatchObject({ status: 'sent', attempts: 2, possibleDuplicate: false });
  });

  it('a refused recipient or a malformed address fails for good; a wrong SMTP password is retried and never shown', async () => {
    const { sendEmail } = activitiesOf(smtpSender().sender);
    const { request } = confirmationFor(newOrderId(), 'nobody@refused.test');
    const refused = await thrown(callActivity(env, sendEmail, request));
    expect(refused).toMatchObject({ type: 'EmailRefused', nonRetryable: true });
    expect(refused.message).toMatch(/550/);
    expect(await new SentEmails(db).get(emailIdempotencyKey(request))).toMatchObject({ status: 'refused' });

    const { request: malformed } = confirmationFor(newOrderId(), 'ada@example.com\r\nBcc: everyone@example.com');
    expect(await thrown(callActivity(env, sendEmail, malformed))).toMatchObject({ type: 'EmailRefused', nonRetryable: true });
    expect(await new SentEmails(db).get(emailIdempotencyKey(malformed))).toBeUndefined();

    const wrongPassword = 'not-the-password';
    const { request: locked } = confirmationFor(newOrderId());
    const auth = await thrown(callActivity(env, activitiesOf(smtpSender({ password: wrongPassword }).sender).sendEmail, locked));
    expect(auth).toMatchObject({ type: 'EmailUnavailable', nonRetryable: false });
    expect(auth.message).toMatch(/535/);
    expect(auth.message).not.toContain(wrongPassword);
    expect(copiesOf(emailIdempotencyKey(locked))).toEqual([]);
  });
});

describe('emails over smtps://', () => {
  it('sends over TLS from the first byte, from SMTP_URL as the configuration reads it', async () => {
    const smtps = await startSmtpServer({ secure: true });
    const { db } = await openMigrated();
    try {
      // smtp-server's own self-signed certificate: the URL's query hands nodemailer the TLS option.
      const config = loadConfig({ SMTP_URL: smtpUrl(smtps.port, { scheme: 'smtps', query: '?tls.rejectUnauthorized=false' }), EMAIL_FROM: FROM });
      const sender = createEmailSender(config, db, recordingLogger().logger);
      expect(sender.transport).toBe('smtp');
      const { request, links } = confirmationFor(newOrderId());
      const result = await sender.send(renderEmailFor(request));
      expect(smtps.received).toHaveLength(1);
      expectMessage(smtps.received[0]!.mail, request, links, result.messageId);
      await sender.close();
    } finally {
      await smtps.close();
      await db.close();
    }
  });
});

describe('the outbox (the embedded default)', () => {
  let dataDir: string;
  let db: Database;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'sf-outbox-'));
    ({ db } = await openMigrated());
  });
  afterAll(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes each message as one parseable .eml under DATA_DIR/outbox, named by time and key, once per key', async () => {
    const config = loadConfig({ DATA_DIR: dataDir, EMAIL_FROM: FROM });
    const sender = createEmailSender(config, db, recordingLogger().logger);
    expect(sender.transport).toBe('outbox');
    const { sendEmail } = createEmailActivities({ email: sender, publicUrl: PUBLIC_URL, orders: ordersWithToken });
    const env = new MockActivityEnvironment();
    const orderId = newOrderId();
    const cases = requestsFor(orderId);
    const results = [];
    for (const { request } of cases) results.push(await callActivity(env, sendEmail, request));
    for (const { request } of cases) expect(await callActivity(env, sendEmail, request)).toMatchObject({ alreadySent: true });

    const outbox = path.join(dataDir, 'outbox');
    const names = await readdir(outbox);
    expect(names).toHaveLength(cases.length); // no second copy, no temporary file left
    const records = await new SentEmails(db).forReference(orderId);
    for (const [i, { request, links }] of cases.entries()) {
      const keyPart = emailIdempotencyKey(request).replaceAll(':', '.');
      const name = names.find((n) => n.endsWith(`-${keyPart}.eml`));
      expect(name).toMatch(/^\d{8}T\d{9}Z-email\.order\.[\w-]+\.[a-z-]+\.eml$/);
      expect(records[i]).toMatchObject({ kind: request.kind, status: 'sent', transport: 'outbox', outboxFile: name });
      const raw = await readFile(path.join(outbox, name!));
      expect(raw.toString('latin1')).toMatch(/^[\x21-\x7e]+: /); // a header first: RFC 5322, not JSON
      expectMessage(await simpleParser(raw), request, links, results[i]!.messageId);
    }
    // Named so a listing sorts by time: in the order they were written.
    const written = cases.map(({ request }) => names.find((n) => n.endsWith(`-${emailIdempotencyKey(request).replaceAll(':', '.')}.eml`))!);
    expect(written.map((n) => n.slice(0, 19))).toEqual(written.map((n) => n.slice(0, 19)).sort());
  });

  it("links a real order's page with the token that opens it, derived, never stored; an order from before derived tokens gets the bare page", async () => {
    const orders = new OrderRepository(db, new OrderAccessTokens('a-shared-cookie-secret'));
    const customerId = await new Customers(db, new CreditLedger(db), 0).create();
    const { record: buddy } = await new AnimationRepository(db).create(customerId);
    const placed = { animationId: buddy.id, email: 'ada@example.com', printerId: 'sim', paymentProvider: 'local', amountCents: 1299, currency: 'usd' };
    const { record, accessToken } = await orders.create(placed);
    const config = loadConfig({ DATA_DIR: path.join(dataDir, 'tokens'), EMAIL_FROM: FROM });
    // The worker's own repository, with its own instance of the shared secret: as in another process.
    const workerOrders = new OrderRepository(db, new OrderAccessTokens('a-shared-cookie-secret'));
    const { sendEmail } = createEmailActivities({ email: createEmailSender(config, db, recordingLogger().logger), publicUrl: PUBLIC_URL, orders: workerOrders });
    const env = new MockActivityEnvironment();
    const { request } = confirmationFor(record.id);
    await callActivity(env, sendEmail, request);
    const [file] = await readdir(path.join(config.email.outboxDir));
    const mail = await simpleParser(await readFile(path.join(config.email.outboxDir, file!)));
    expect(mail.text).toContain(privateOrderUrl(PUBLIC_URL, record.id, accessToken));
    const token = /#token=([\w-]+)/.exec(mail.text ?? '')?.[1];
    expect(await orders.getWithToken(record.id, token)).toMatchObject({ id: record.id });
    const rows = await db.query<Record<string, unknown>>('SELECT * FROM orders WHERE id = $1', [record.id]);
    expect(JSON.stringify(rows)).not.toContain(accessToken);

    // Another secret (rotated, or an order whose token was random): no token is guessed into the link.
    const stranger = createEmailActivities({
      email: createEmailSender(config, db, recordingLogger().logger),
      publicUrl: PUBLIC_URL,
      orders: new OrderRepository(db, new OrderAccessTokens('another-secret')),
    });
    const refunded = requestsFor(record.id).find((c) => c.request.kind === 'order_refunded')!.request;
    await callActivity(env, stranger.sendEmail, refunded);
    const sent = await new SentEmails(db).get(emailIdempotencyKey(refunded));
    const bare = await simpleParser(await readFile(path.join(config.email.outboxDir, sent!.outboxFile!)));
    expect(bare.text).toContain(`${PUBLIC_URL}/orders/${record.id}\n`);
    expect(bare.text).not.toContain('#token=');
  });

  it('a crash between writing the file and recording it leaves one file: the retry finds it and writes none', async () => {
    const dying = dyingBeforeRecord(db);
    const dir = path.join(dataDir, 'crash');
    const log = recordingLogger();
    const sender = new IdempotentEmailSender(new OutboxTransport(dir), new SentEmails(dying.db, 0), { from: FROM, logger: log.logger });
    const { request } = confirmationFor(newOrderId());
    await expect(sender.send(renderEmailFor(request))).rejects.toThrow(/worker died/);
    const [first] = await readdir(dir);
    const retried = await sender.send(renderEmailFor(request));
    expect(retried).toMatchObject({ duplicate: false, alreadySent: false });
    expect(await readdir(dir)).toEqual([first]);
    expect(log.lines.filter((l) => l.includes('WARN'))).toEqual([]); // the one copy is the only one
    expect(await new SentEmails(db).get(emailIdempotencyKey(request))).toMatchObject({ status: 'sent', outboxFile: first, possibleDuplicate: false });
  });
});

describe('email settings', () => {
  it('SMTP_URL is an smtp:// or smtps:// URL; EMAIL_FROM an address; the password is never printed', () => {
    expect(loadConfig({}).email).toEqual({ smtpUrl: undefined, from: 'stickerflow <no-reply@localhost>', outboxDir: path.resolve('./data/outbox') });
    for (const bad of ['http://mail.example.com', 'smtp://', 'mail.example.com:25', 'smtp:// spaced']) {
      expect(() => loadConfig({ SMTP_URL: bad }), bad).toThrow(/SMTP_URL/);
    }
    for (const bad of ['nobody', 'a@b c', 'Shop <orders@example.com', 'Shop\r\nBcc: x@y <orders@example.com>']) {
      expect(() => loadConfig({ EMAIL_FROM: bad }), bad).toThrow(/EMAIL_FROM/);
    }
    expect(loadConfig({ EMAIL_FROM: 'orders@example.com' }).email.from).toBe('orders@example.com');
    for (const [url, shown] of [
      ['smtps://mailer:s3cr%40t@mail.example.com:465', 'smtps://mailer:***@mail.example.com:465'],
      ['smtp://:0nlyPassw0rd@mail.example.com', 'smtp://:***@mail.example.com'],
      ['smtp://mailer:raw@pass@mail.example.com:587', 'smtp://mailer:***@mail.example.com:587'],
    ] as const) {
      const text = JSON.stringify(redactConfig(loadConfig({ SMTP_URL: url })));
      expect(text).toContain(shown);
      for (const secret of ['s3cr', '0nlyPassw0rd', 'raw@pass']) expect(text).not.toContain(secret);
    }
  });
});
